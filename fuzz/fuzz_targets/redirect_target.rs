//! Post-login and post-logout targets (`redirect::is_safe_target`, `sanitize`,
//! `current_target`). Beyond the crate's own contract, a target it calls safe must stay on the
//! app's origin when a browser resolves it (WHATWG URL parsing, as the `url` crate implements
//! it) against any page of the app: that is what an open redirect would break.
#![no_main]

use libfuzzer_sys::fuzz_target;
use url::Url;

const PAGES: [&str; 3] =
    ["https://app.example.com/", "https://app.example.com/a/b/c?x=1#f", "http://127.0.0.1:8000/login"];

fuzz_target!(|data: &[u8]| {
    let Ok(target) = std::str::from_utf8(data) else {
        return;
    };
    assert!(
        aad_auth::__fuzz::redirect_target_holds(target),
        "sanitize/current_target broke their contract: {target:?}"
    );
    if aad_auth::redirect::is_safe_target(target) {
        for page in PAGES {
            let base = Url::parse(page).expect("a page URL");
            match base.join(target) {
                Ok(resolved) => {
                    assert_eq!(resolved.origin(), base.origin(), "{target:?} from {page} goes to {resolved}");
                    assert!(resolved.username().is_empty() && resolved.password().is_none(), "{target:?}: {resolved}");
                }
                Err(error) => panic!("a safe target does not resolve from {page}: {target:?}: {error}"),
            }
        }
    }
});
