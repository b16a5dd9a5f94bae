//! BM25 term weights, scored exactly as tantivy scores them, built cheaply.
//!
//! Matching weighs every term of a query in every text field it may match: a few
//! hundred weights for a query with typo corrections and synonyms. tantivy's
//! `Bm25Weight::for_one_term` builds an explanation (strings) and a fresh 256-entry
//! length table for each, and `boost_by` copies the explanation again; on a small
//! catalog that was a tenth of a query's matching time. Here the length table is
//! computed once per field and query ([`LengthNorms`]) and a term's weight is one number
//! beside it ([`TermWeight`]). Input: document frequencies, the document count and a
//! field's average length; output: `score(fieldnorm id, term frequency)`, the same
//! floating-point operations in the same order as tantivy's (k1 = 1.2, b = 0.75).

use std::sync::Arc;

use tantivy::fieldnorm::FieldNormReader;

const K1: f32 = 1.2;
const B: f32 = 0.75;

/// A field's length normalization, per fieldnorm id: `k1 × (1 − b + b × len / avg)`.
#[derive(Debug, Clone)]
pub struct LengthNorms(Arc<[f32; 256]>);

impl LengthNorms {
    /// The table for a field whose documents hold `average_length` tokens on average.
    pub fn new(average_length: f32) -> LengthNorms {
        let mut table = [0.0f32; 256];
        for (id, norm) in table.iter_mut().enumerate() {
            let length = FieldNormReader::id_to_fieldnorm(id as u8);
            *norm = K1 * (1.0 - B + B * length as f32 / average_length);
        }
        LengthNorms(Arc::new(table))
    }
}

/// One term's BM25 weight in one field.
#[derive(Debug, Clone)]
pub struct TermWeight {
    weight: f32,
    norms: LengthNorms,
}

impl TermWeight {
    /// A term found in `doc_freq` of `docs` documents, its score multiplied by `boost`.
    pub fn new(doc_freq: u64, docs: u64, norms: &LengthNorms, boost: f32) -> TermWeight {
        TermWeight {
            weight: idf(doc_freq, docs) * (1.0 + K1) * boost,
            norms: norms.clone(),
        }
    }

    /// The score of a document with this field length and term frequency.
    #[inline]
    pub fn score(&self, fieldnorm_id: u8, term_freq: u32) -> f32 {
        let term_freq = term_freq as f32;
        let norm = self.norms.0[fieldnorm_id as usize];
        self.weight * (term_freq / (term_freq + norm))
    }
}

/// `ln(1 + (N − n + 0.5) / (n + 0.5))`.
fn idf(doc_freq: u64, docs: u64) -> f32 {
    let x = (docs.saturating_sub(doc_freq) as f32 + 0.5) / (doc_freq as f32 + 0.5);
    (1.0 + x).ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::query::Bm25Weight;

    #[test]
    fn scores_exactly_as_tantivy() {
        for (df, docs, average, boost) in [
            (1u64, 10u64, 3.5f32, 1.0f32),
            (7, 19_406, 12.25, 2.5),
            (19_000, 19_406, 40.0, 0.35),
            (500, 1_000_000, 1.0, 1.0),
        ] {
            let ours = TermWeight::new(df, docs, &LengthNorms::new(average), boost);
            let theirs = Bm25Weight::for_one_term(df, docs, average).boost_by(boost);
            for id in [0u8, 1, 7, 40, 128, 255] {
                for tf in [1u32, 2, 9, 300] {
                    assert_eq!(ours.score(id, tf), theirs.score(id, tf), "{df} {id} {tf}");
                }
            }
        }
    }
}
