//! Reading the labelled complaints file (`id,text,label,domain`, RFC 4180 quoting).

use std::path::Path;

use crate::model::Example;
use crate::ScoringError;

/// Splits CSV text into records of fields (quoted fields may hold commas, quotes, newlines).
pub fn parse_csv(text: &str) -> Result<Vec<Vec<String>>, ScoringError> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut in_quotes = false;
    let mut line = 1usize;
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                _ => {
                    if c == '\n' {
                        line += 1;
                    }
                    field.push(c);
                }
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => in_quotes = true,
            ',' => record.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                line += 1;
                any = false;
            }
            _ => field.push(c),
        }
    }
    if in_quotes {
        return Err(ScoringError::Data(format!(
            "unterminated quoted field at line {line}"
        )));
    }
    if any {
        record.push(field);
        records.push(record);
    }
    Ok(records)
}

/// Reads labelled examples from a CSV with a header naming `text` and `label` columns.
pub fn read_examples(path: &Path) -> Result<Vec<Example>, ScoringError> {
    let raw = std::fs::read_to_string(path).map_err(|source| ScoringError::Io {
        path: path.display().to_string(),
        source,
    })?;
    examples_from_csv(&raw)
}

/// Parses labelled examples from CSV text (see [`read_examples`]).
pub fn examples_from_csv(raw: &str) -> Result<Vec<Example>, ScoringError> {
    let records = parse_csv(raw)?;
    let Some((header, rows)) = records.split_first() else {
        return Err(ScoringError::Data("empty training file".into()));
    };
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| ScoringError::Data(format!("missing column {name:?} in header")))
    };
    let (ti, li) = (col("text")?, col("label")?);
    let mut out = Vec::with_capacity(rows.len());
    for (n, row) in rows.iter().enumerate() {
        if row.len() == 1 && row[0].is_empty() {
            continue;
        }
        let (Some(text), Some(label)) = (row.get(ti), row.get(li)) else {
            return Err(ScoringError::Data(format!(
                "record {}: expected {} fields",
                n + 1,
                header.len()
            )));
        };
        let label = match label.trim() {
            "1" => true,
            "0" => false,
            other => {
                return Err(ScoringError::Data(format!(
                    "record {}: label {other:?} is not 0 or 1",
                    n + 1
                )))
            }
        };
        out.push(Example {
            text: text.clone(),
            label,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_keep_commas_quotes_and_newlines() {
        let rows = parse_csv("id,text\n1,\"a, \"\"b\"\"\nc\"\n2,plain\n").expect("parses");
        assert_eq!(
            rows,
            vec![
                vec!["id", "text"],
                vec!["1", "a, \"b\"\nc"],
                vec!["2", "plain"]
            ]
        );
    }

    #[test]
    fn bad_label_names_the_record() {
        let err = examples_from_csv("id,text,label\n1,hi,maybe\n").expect_err("rejects");
        assert!(err.to_string().contains("record 1"), "{err}");
    }
}
