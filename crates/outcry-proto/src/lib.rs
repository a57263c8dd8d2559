//! Rust types for Outcry's public protobuf contract (`proto/outcry/v1`).
//!
//! Everything on a topic is one of these messages. Helpers here convert between
//! protobuf timestamps and unix milliseconds, which the services use internally.

#[allow(clippy::all, missing_docs)]
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/outcry.v1.rs"));
}

pub use prost::Message;
pub use prost_types::Timestamp;

/// Converts unix milliseconds to a protobuf timestamp.
pub fn timestamp_from_millis(ms: i64) -> Timestamp {
    Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// Converts a protobuf timestamp to unix milliseconds (0 when absent).
pub fn millis_from_timestamp(ts: Option<&Timestamp>) -> i64 {
    ts.map_or(0, |t| {
        t.seconds
            .saturating_mul(1000)
            .saturating_add(i64::from(t.nanos) / 1_000_000)
    })
}

impl v1::Source {
    /// The lowercase name used in JSON and in metric labels.
    pub fn label(self) -> &'static str {
        use v1::Source::*;
        match self {
            Unspecified => "unspecified",
            X => "x",
            Mastodon => "mastodon",
            Bluesky => "bluesky",
            Reddit => "reddit",
            Facebook => "facebook",
            Instagram => "instagram",
            Youtube => "youtube",
            Review => "review",
            Web => "web",
            Other => "other",
        }
    }

    /// Parses the lowercase name; `None` for anything else.
    pub fn from_label(label: &str) -> Option<Self> {
        use v1::Source::*;
        Some(match label {
            "x" | "twitter" => X,
            "mastodon" => Mastodon,
            "bluesky" => Bluesky,
            "reddit" => Reddit,
            "facebook" => Facebook,
            "instagram" => Instagram,
            "youtube" => Youtube,
            "review" => Review,
            "web" => Web,
            "other" => Other,
            _ => return None,
        })
    }
}

impl v1::Priority {
    /// `P1`..`P4`, or `P4` for an unspecified priority (the least urgent).
    pub fn label(self) -> &'static str {
        match self {
            v1::Priority::P1 => "P1",
            v1::Priority::P2 => "P2",
            v1::Priority::P3 => "P3",
            v1::Priority::P4 | v1::Priority::Unspecified => "P4",
        }
    }

    /// From 1..=4; anything else is the least urgent.
    pub fn from_level(level: u8) -> Self {
        match level {
            1 => v1::Priority::P1,
            2 => v1::Priority::P2,
            3 => v1::Priority::P3,
            _ => v1::Priority::P4,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::v1::*;
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn timestamps_round_trip_through_millis(ms in -10_000_000_000_000i64..10_000_000_000_000) {
            prop_assert_eq!(millis_from_timestamp(Some(&timestamp_from_millis(ms))), ms);
        }

        #[test]
        fn mentions_round_trip_through_bytes(
            id in ".{0,40}", text in ".{0,280}", followers in any::<u64>(),
            brands in proptest::collection::vec("[a-z]{1,8}", 0..4), ms in 0i64..4_000_000_000_000,
        ) {
            let mention = Mention {
                id, text, brand_ids: brands,
                author: Some(Author { followers, ..Default::default() }),
                event_time: Some(timestamp_from_millis(ms)),
                ..Default::default()
            };
            let decoded = Mention::decode(mention.encode_to_vec().as_slice()).unwrap();
            prop_assert_eq!(decoded, mention);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Mention::decode(bytes.as_slice());
            let _ = ScoredMention::decode(bytes.as_slice());
            let _ = Escalation::decode(bytes.as_slice());
        }
    }

    #[test]
    fn source_labels_parse_back() {
        for s in [Source::X, Source::Reddit, Source::Review, Source::Other] {
            assert_eq!(Source::from_label(s.label()), Some(s));
        }
        assert_eq!(Source::from_label("myspace"), None);
    }
}
