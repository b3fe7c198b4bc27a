#![no_main]
//! TNAuthList DER: decode, and re-encode what decodes.
use libfuzzer_sys::fuzz_target;
use shaken::cert::TnAuthList;

fuzz_target!(|data: &[u8]| {
    if let Ok(list) = TnAuthList::from_der(data) {
        let der = list.to_der().expect("a decoded list re-encodes");
        assert_eq!(TnAuthList::from_der(&der).expect("round trip"), list);
    }
});
