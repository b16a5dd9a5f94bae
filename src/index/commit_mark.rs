//! What an index's last commit says it holds, stored as the tantivy commit payload so
//! that the documents and the mark can never disagree after a crash.
//!
//! * `updates`: the last update-log sequence number ([`super::updates`]) the index
//!   holds. A build stores the last one it folded in; every product update applied to
//!   a lone server's live index moves it on. Whoever opens the index replays the log
//!   after it.
//! * `feed`: the position in the replicas' shared catalog feed
//!   ([`crate::product_feed`]) the index has applied up to.
//!
//! The payload is a JSON object, `{"updates":17,"feed":"1700000000000-4"}`. Indexes
//! written before it existed carry either no payload or the bare feed position, which
//! still read as such (with `updates` 0).

use serde::{Deserialize, Serialize};

/// The mark of one commit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitMark {
    /// The last update-log sequence number the index holds (0: none).
    #[serde(default)]
    pub updates: u64,
    /// The catalog feed position applied up to (`None`: nothing from the feed yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed: Option<String>,
}

impl CommitMark {
    /// Reads a commit payload (`None`: the commit had none).
    pub fn parse(payload: Option<&str>) -> CommitMark {
        match payload {
            None => CommitMark::default(),
            Some(text) if text.trim_start().starts_with('{') => serde_json::from_str(text)
                .unwrap_or_else(|e| {
                    tracing::warn!("unreadable index commit mark {text:?} ({e}); taken as empty");
                    CommitMark::default()
                }),
            // Before the mark was JSON, the payload was the bare feed position.
            Some(feed) => CommitMark {
                updates: 0,
                feed: Some(feed.to_string()),
            },
        }
    }

    /// The payload to store.
    pub fn payload(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_round_trip_and_old_payloads_still_read() {
        let mark = CommitMark {
            updates: 17,
            feed: Some("1700000000000-4".into()),
        };
        assert_eq!(CommitMark::parse(Some(&mark.payload())), mark);
        assert_eq!(CommitMark::parse(None), CommitMark::default());
        assert_eq!(
            CommitMark::parse(Some("1700000000000-4")),
            CommitMark {
                updates: 0,
                feed: Some("1700000000000-4".into())
            }
        );
        assert_eq!(
            CommitMark::parse(Some(r#"{"updates":3}"#)).feed,
            None,
            "a build's mark has no feed position"
        );
    }
}
