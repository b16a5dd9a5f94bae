//! The clerk analyzer as a tantivy tokenizer.

use tantivy::tokenizer::{Token as TantivyToken, TokenStream, Tokenizer};

use super::Analyzer;

/// Adapts [`Analyzer`] to tantivy's `Tokenizer` trait.
#[derive(Debug, Clone)]
pub struct ClerkTokenizer {
    analyzer: Analyzer,
}

impl ClerkTokenizer {
    pub fn new(analyzer: Analyzer) -> ClerkTokenizer {
        ClerkTokenizer { analyzer }
    }
}

/// Tokens computed up front, handed out one at a time.
pub struct ClerkTokenStream {
    tokens: std::vec::IntoIter<TantivyToken>,
    current: TantivyToken,
}

impl Tokenizer for ClerkTokenizer {
    type TokenStream<'a> = ClerkTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> ClerkTokenStream {
        let tokens: Vec<TantivyToken> = self
            .analyzer
            .tokens(text)
            .into_iter()
            .map(|t| TantivyToken {
                offset_from: t.offset_from,
                offset_to: t.offset_to,
                position: t.position,
                text: t.text,
                position_length: 1,
            })
            .collect();
        ClerkTokenStream {
            tokens: tokens.into_iter(),
            current: TantivyToken::default(),
        }
    }
}

impl TokenStream for ClerkTokenStream {
    fn advance(&mut self) -> bool {
        match self.tokens.next() {
            Some(token) => {
                self.current = token;
                true
            }
            None => false,
        }
    }

    fn token(&self) -> &TantivyToken {
        &self.current
    }

    fn token_mut(&mut self) -> &mut TantivyToken {
        &mut self.current
    }
}
