//! Configuration from the environment (`AadAuthConfig::from_lookup`: the list, flag, duration,
//! secret and URL parsers of `config::env` and the checks of `config::validate`). One variable a
//! line, `NAME=value`; a line without a known name is the value of the variable at its index.
//! Accepted values must be in range, and no error message may echo a secret.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    assert!(aad_auth::__fuzz::config_values_hold(&input), "the configuration contract broke for {input:?}");
});
