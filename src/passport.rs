//! passport
