//! Integration tests of `qmq-core`: one test binary, one module per property.
//!
//! The protocol modules carry their own unit tests (one roundtrip, every truncation, the Java
//! golden frames). The modules here check the codec from the outside with generated inputs:
//! random values roundtrip, random byte streams decode the same whatever their chunking, and
//! arbitrary bytes never make a decoder panic.

mod codec_props;
mod decoder_robustness;
mod frame_stream;
mod fuzz_seeds;
mod strategies;
