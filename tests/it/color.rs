//! Colour only where it helps: `--color`, NO_COLOR and CLICOLOR_FORCE,
//! decided per stream (these runs are piped, so `auto` means no colour).

use serde_json::json;

use crate::common::*;

const ESC: char = '\u{1b}';

/// Flags, environment, and whether colour is expected.
type Case = (
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
    bool,
);

#[test]
fn color_flag_and_environment_matrix() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": true}));
    let cases: &[Case] = &[
        (&[], &[], false),
        (&["--color", "always"], &[], true),
        (&["--color=always"], &[("NO_COLOR", "1")], true),
        (&["--color", "never"], &[("CLICOLOR_FORCE", "1")], false),
        (&[], &[("NO_COLOR", "1")], false),
        (&[], &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")], false),
        (&[], &[("CLICOLOR_FORCE", "1")], true),
        (&[], &[("CLICOLOR_FORCE", "0")], false),
        (&["--color", "auto"], &[("NO_COLOR", "")], false),
    ];
    for (flags, env, colored) in cases {
        let mut met =
            s.notify(&[&["widgets/foo", "--until", ".status.ready == true"], *flags].concat());
        let mut failed = s.notify(&[&["wdgets/foo", "--until", ".a"], *flags].concat());
        for cmd in [&mut met, &mut failed] {
            cmd.env_remove("NO_COLOR").env_remove("CLICOLOR_FORCE");
            for (k, v) in *env {
                cmd.env(k, v);
            }
        }
        let met = met.output().unwrap();
        let failed = failed.output().unwrap();
        assert_eq!(code(&met), 0, "{}", stderr(&met));
        assert_eq!(code(&failed), 2);
        assert_eq!(
            stdout(&met).contains(ESC),
            *colored,
            "stdout {flags:?} {env:?}: {:?}",
            stdout(&met)
        );
        assert_eq!(
            stderr(&failed).contains(ESC),
            *colored,
            "stderr {flags:?} {env:?}: {:?}",
            stderr(&failed)
        );
        let plain: String = stdout(&met).replace(ESC, "");
        assert!(
            plain.contains("widget.example.com/foo") && plain.contains("condition met"),
            "{plain}"
        );
    }
}
