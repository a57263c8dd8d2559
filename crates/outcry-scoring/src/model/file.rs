//! The model file: little-endian, sparse (only buckets with a weight), in a fixed order,
//! so that the same model is always the same bytes; its version is a hash of them.

use super::*;

const MAGIC: &[u8; 8] = b"OUTCRYCM";
/// 2: char n-grams hashed multiplicatively (`features::char_bucket`); 1 used FNV-1a for them,
/// so a version-1 file would index the wrong buckets and is rejected (retrain it).
const FORMAT_VERSION: u32 = 2;

impl ComplaintModel {
    /// Serialises the model (little-endian, sparse: only buckets with a weight).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 << 20);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&[
            self.cfg.word_bits,
            self.cfg.char_bits,
            self.cfg.char_min,
            self.cfg.char_max,
        ]);
        out.extend_from_slice(&self.threshold.to_le_bytes());
        out.extend_from_slice(&self.bias.to_le_bytes());
        for w in self.dense_w {
            out.extend_from_slice(&w.to_le_bytes());
        }
        for table in [&self.word_w, &self.char_w] {
            let nz: Vec<(u32, f32)> = table.nonzero().filter(|(_, w)| *w != 0.0).collect();
            out.extend_from_slice(&(nz.len() as u32).to_le_bytes());
            for (i, w) in nz {
                out.extend_from_slice(&i.to_le_bytes());
                out.extend_from_slice(&w.to_le_bytes());
            }
        }
        out
    }

    /// Parses a model file written by [`ComplaintModel::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<ComplaintModel, ScoringError> {
        let mut r = Reader { bytes, pos: 0 };
        if r.take(8)? != MAGIC {
            return Err(ScoringError::Model(
                "not an outcry complaint model (bad magic)".into(),
            ));
        }
        let fv = r.u32()?;
        if fv != FORMAT_VERSION {
            return Err(ScoringError::Model(format!(
                "unsupported model format version {fv} (expected {FORMAT_VERSION}; retrain with `outcry train complaints`)"
            )));
        }
        let h = r.take(4)?;
        let cfg = FeatureConfig {
            word_bits: h[0],
            char_bits: h[1],
            char_min: h[2],
            char_max: h[3],
        };
        if !(8..=24).contains(&cfg.word_bits)
            || !(8..=24).contains(&cfg.char_bits)
            || cfg.char_min == 0
            || cfg.char_min > cfg.char_max
            || cfg.char_max as usize > MAX_CHAR_N
        {
            return Err(ScoringError::Model(format!(
                "invalid feature configuration {cfg:?}"
            )));
        }
        let threshold = f64::from_le_bytes(r.take(8)?.try_into().map_err(|_| r.truncated())?);
        if !(0.0..=1.0).contains(&threshold) {
            return Err(ScoringError::Model(format!(
                "threshold {threshold} outside [0, 1]"
            )));
        }
        let bias = r.f32()?;
        let mut dense_w = [0f32; DENSE];
        for w in &mut dense_w {
            *w = r.f32()?;
        }
        let mut tables = Vec::with_capacity(2);
        for bits in [cfg.word_bits, cfg.char_bits] {
            let size = 1usize << bits;
            let mut table = vec![0f32; size];
            let n = r.u32()? as usize;
            for _ in 0..n {
                let i = r.u32()? as usize;
                let w = r.f32()?;
                if i >= size || !w.is_finite() {
                    return Err(ScoringError::Model(format!(
                        "bad weight entry at bucket {i}"
                    )));
                }
                table[i] = w;
            }
            tables.push(table);
        }
        if r.pos != bytes.len() {
            return Err(ScoringError::Model(
                "trailing bytes after the weights".into(),
            ));
        }
        let char_w = tables.pop().unwrap_or_default();
        let word_w = tables.pop().unwrap_or_default();
        Ok(ComplaintModel::from_parts(
            cfg,
            (word_w, char_w),
            dense_w,
            bias,
            threshold,
            version_of(bytes),
        ))
    }
}

/// `complaint-lr-<first 12 hex digits of the FNV-1a hash of the model bytes>`
pub fn version_of(bytes: &[u8]) -> String {
    let mut h = Fnv64::new(0);
    h.bytes(bytes);
    format!("complaint-lr-{:012x}", h.finish() >> 16)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn truncated(&self) -> ScoringError {
        ScoringError::Model(format!("truncated model file at byte {}", self.pos))
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], ScoringError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| self.truncated())?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32, ScoringError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn f32(&mut self) -> Result<f32, ScoringError> {
        let b = self.take(4)?;
        Ok(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}
