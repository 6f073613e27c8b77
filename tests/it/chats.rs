//! The chat sinks (SPEC §11): Slack, Mattermost and Google Chat take
//! `{"text"}`, Discord `{"content"}` (at most 2,000 characters; its 429
//! says `retry_after` in the body), Teams a Workflows message with one
//! Adaptive Card. `--message` is the text of every one of them.

use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::*;
use crate::receiver::{Answer, Receiver};

const LONG: Duration = Duration::from_secs(30);

fn notify_with(s: &Scenario, args: &[&str], env: &[(&str, String)]) -> Child {
    let mut all = vec!["widgets", "--all", "-q"];
    all.extend_from_slice(args);
    let before = s.server.requests().len();
    let mut cmd = s.notify(&all);
    for (name, value) in env {
        cmd.env(name, value);
    }
    let mut child = cmd.spawn().unwrap();
    s.wait_for_watch_since(before, "widgets", &mut child);
    child
}

#[test]
fn message_is_the_text_of_every_chat_sink_each_in_its_own_body() {
    let s = Scenario::new();
    let hooks: Vec<Receiver> = (0..6).map(|_| Receiver::start()).collect();
    s.widget("foo", json!({}), json!({"phase": "Running"}));
    let env: Vec<(&str, String)> = ["S1", "S2", "TEAMS", "DISCORD", "GCHAT", "MM"]
        .into_iter()
        .zip(hooks.iter().map(Receiver::url))
        .collect();
    let child = notify_with(
        &s,
        &[
            "--when",
            ".status.phase == \"Failed\"",
            "--resolve",
            "--sink",
            "slack:env:S1",
            "--sink",
            "slack:env:S2",
            "--sink",
            "teams:env:TEAMS",
            "--sink",
            "discord:env:DISCORD",
            "--sink",
            "googlechat:env:GCHAT",
            "--sink",
            "mattermost:env:MM",
            "--message",
            "{.metadata.name} is {.status.phase}",
            "--count",
            "2",
        ],
        &env,
    );
    s.set_status("foo", json!({"phase": "Failed"}));
    s.set_status("foo", json!({"phase": "Running"}));
    let out = finish(child, LONG);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let bodies = |i: usize| -> Vec<serde_json::Value> {
        hooks[i].delivered().iter().map(|r| r.json()).collect()
    };
    let text = |t: &str| json!({ "text": t });
    // Each Slack sink, not only the first, and the Slack-compatible ones.
    for i in [0, 1, 4, 5] {
        assert_eq!(
            bodies(i),
            [text("foo is Failed"), text("resolved: foo is Running")],
            "sink {i}"
        );
    }
    assert_eq!(
        bodies(3),
        [
            json!({"content": "foo is Failed"}),
            json!({"content": "resolved: foo is Running"})
        ]
    );
    let card = &bodies(2)[0];
    assert_eq!(card["type"], "message");
    let attachments = card["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1, "one Adaptive Card");
    assert_eq!(
        attachments[0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let content = &attachments[0]["content"];
    assert_eq!(content["type"], "AdaptiveCard");
    assert_eq!(
        content["$schema"],
        "http://adaptivecards.io/schemas/adaptive-card.json"
    );
    assert!(content["version"].as_str().unwrap().starts_with("1."));
    assert_eq!(content["body"][0]["type"], "TextBlock");
    assert_eq!(content["body"][0]["text"], "foo is Failed");
    assert_eq!(
        bodies(2)[1]["attachments"][0]["content"]["body"][0]["text"],
        "resolved: foo is Running"
    );
}

/// Before, only the first Slack sink took `--message`; a second got the
/// default text.
#[test]
fn message_is_the_text_of_a_second_slack_sink_too() {
    let s = Scenario::new();
    let (first, second) = (Receiver::start(), Receiver::start());
    let child = notify_with(
        &s,
        &[
            "--sink",
            "slack:env:FIRST",
            "--sink",
            "slack:env:SECOND",
            "--message",
            "{.metadata.name} arrived",
            "--count",
            "1",
        ],
        &[("FIRST", first.url()), ("SECOND", second.url())],
    );
    s.widget("foo", json!({}), json!(null));
    let out = finish(child, LONG);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for hook in [&first, &second] {
        assert_eq!(hook.delivered()[0].json(), json!({"text": "foo arrived"}));
    }
}

/// A `--message` that renders empty on an object would be refused for good
/// (Slack, Discord, PagerDuty answer 400): the sink's default text goes
/// instead.
#[test]
fn a_message_that_renders_empty_falls_back_to_the_default_text() {
    let s = Scenario::new();
    let (slack, discord, pagerduty) = (Receiver::start(), Receiver::start(), Receiver::start());
    let child = notify_with(
        &s,
        &[
            "--sink",
            "slack:env:SLACK",
            "--sink",
            "discord:env:DISCORD",
            "--sink",
            "pagerduty:env:PD",
            "--message",
            "{.status.nothing}",
            "--count",
            "1",
        ],
        &[
            ("SLACK", slack.url()),
            ("DISCORD", discord.url()),
            (
                "PD",
                format!(
                    "http://{}/v2/enqueue?routing_key=R0UT1NGKEY",
                    pagerduty.addr
                ),
            ),
        ],
    );
    s.widget("foo", json!({}), json!(null));
    let out = finish(child, LONG);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = slack.delivered()[0].json()["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        text.contains("created   widget.example.com/foo"),
        "{text:?}"
    );
    let content = discord.delivered()[0].json()["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        content.contains("created   widget.example.com/foo"),
        "{content:?}"
    );
    let event = pagerduty.delivered()[0].json();
    let summary = event["payload"]["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("widget.example.com/foo in default"),
        "{event}"
    );
}

#[test]
fn the_default_text_is_the_header_and_paths_and_discord_is_cut_to_2000_characters() {
    let s = Scenario::new();
    let (discord, teams) = (Receiver::start(), Receiver::start());
    s.widget("foo", json!({}), json!({"ready": false}));
    let child = notify_with(
        &s,
        &[
            "--sink",
            "discord:env:DISCORD",
            "--sink",
            "teams:env:TEAMS",
            "--count",
            "1",
        ],
        &[("DISCORD", discord.url()), ("TEAMS", teams.url())],
    );
    let long = "x".repeat(3000);
    s.set_status("foo", json!({"ready": true, "note": long}));
    let out = finish(child, LONG);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let content = discord.delivered()[0].json()["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        content.contains("modified  widget.example.com/foo"),
        "{content}"
    );
    assert!(content.contains(".status.ready"), "{content}");
    assert!(content.chars().count() <= 2000);
    let card = teams.delivered()[0].json();
    let blocks = &card["attachments"][0]["content"]["body"];
    assert!(
        blocks[0]["text"]
            .as_str()
            .unwrap()
            .contains("modified  widget.example.com/foo"),
        "{card}"
    );
    assert!(
        blocks[1]["text"]
            .as_str()
            .unwrap()
            .contains("~ .status.ready"),
        "{card}"
    );
}

#[test]
fn discord_rate_limits_are_waited_out_as_its_body_says_and_a_400_is_final() {
    let s = Scenario::new();
    let discord = Receiver::start();
    discord.script([
        Answer::Body(
            429,
            r#"{"message": "You are being rate limited.", "retry_after": 1.2, "global": false}"#
                .into(),
        ),
        Answer::Status(204),
        Answer::Body(
            400,
            r#"{"message": "Cannot send an empty message", "code": 50006}"#.into(),
        ),
    ]);
    discord.always(Some(Answer::Status(204)));
    let child = notify_with(
        &s,
        &["--sink", "discord:env:DISCORD", "--count", "2"],
        &[("DISCORD", discord.url())],
    );
    s.widget("foo", json!({}), json!(null));
    let deadline = Instant::now() + LONG;
    while discord.received().len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    s.widget("bar", json!({}), json!(null));
    let out = finish(child, LONG);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let got = discord.received();
    let statuses: Vec<u16> = got.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 204, 400], "{}", stderr(&out));
    let waited = got[1].at - got[0].at;
    assert!(
        waited >= Duration::from_millis(1150),
        "retried after {waited:?}, not retry_after 1.2 s"
    );
    assert!(
        stderr(&out).contains("discord sink #1: rejected the notification"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn mattermost_and_google_chat_retry_5xx_and_429() {
    let s = Scenario::new();
    let (mm, gchat) = (Receiver::start(), Receiver::start());
    mm.script([Answer::Status(503)]);
    gchat.script([Answer::RetryAfter(429, 1)]);
    let child = notify_with(
        &s,
        &[
            "--sink",
            "mattermost:env:MM",
            "--sink",
            "googlechat:env:GCHAT",
            "--count",
            "1",
        ],
        &[("MM", mm.url()), ("GCHAT", gchat.url())],
    );
    s.widget("foo", json!({}), json!(null));
    let out = finish(child, LONG);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for hook in [&mm, &gchat] {
        let statuses: Vec<u16> = hook.received().iter().map(|r| r.status).collect();
        assert_eq!(statuses[1], 200, "{statuses:?}");
        let text = hook.delivered()[0].json()["text"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(text.contains("created   widget.example.com/foo"), "{text}");
    }
}
