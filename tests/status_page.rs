//! The status page, read by headless Chromium from a jetpool running a
//! loaded pool (real NATS, real Docker): it renders the pool, its chart
//! and its agents, follows the event stream, and its numbers are the ones
//! `/status` serves; `jetpool status` and `jetpool explain` print the
//! same. Screenshots are kept under target/tmp/status-page/.

mod common;

use std::time::Duration;

use common::chromium::{Browser, chromium_available, text_at};
use common::*;
use serde_json::Value;

/// The pool's section of the dumped page.
fn section<'a>(dom: &'a str, pool: &str) -> &'a str {
    let start = dom
        .find(&format!("data-pool=\"{pool}\""))
        .unwrap_or_else(|| panic!("the page shows pool {pool}:\n{dom}"));
    let end = dom[start..]
        .find("</section>")
        .map_or(dom.len(), |e| start + e);
    &dom[start..end]
}

fn field(html: &str, key: &str) -> String {
    text_at(html, &format!("data-k=\"{key}\""))
        .unwrap_or_else(|| panic!("field {key} on the page:\n{html}"))
}

fn pool_of<'a>(status: &'a Value, pool: &str) -> &'a Value {
    status["pools"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["pool"] == pool))
        .unwrap_or(&Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_page_shows_the_pool_its_chart_and_agents_as_status_does() {
    if !docker_available() || !chromium_available() {
        return;
    }
    let nats = Nats::start();
    let pool = unique("it-page");
    let _guard = PoolGuard(pool.clone());
    setup_stream(&nats, "PAGE", "work", Duration::from_secs(60)).await;
    // 20 tasks of 10 minutes: three agents (max) hold one each and 17
    // wait, so the numbers stand still while the page is read.
    publish(&nats, "PAGE", 20, 600_000).await;
    let toml = TestPool::new(&pool, "PAGE")
        .bounds(0, 3)
        .scaling("service_time = \"10m\"")
        .toml();
    let svc = Service::start(&nats, &toml);

    let settled = |p: &Value| {
        p["decision"]["desired"] == 3
            && p["replicas"]["ready"] == 3
            && p["observation"]["pending"] == 17
            && p["observation"]["ack_pending"] == 3
            && p["agents"].as_array().is_some_and(|a| {
                a.len() == 3
                    && a.iter()
                        .all(|x| x["role"] == "ready" && x["in_flight"] == 1)
            })
    };
    eventually(
        Duration::from_secs(60),
        "three agents holding a task each, 17 waiting",
        || async {
            let s = svc.status().await;
            settled(pool_of(&s, &pool)).then_some(())
        },
    )
    .await;
    // A few more ticks, so the chart has a line to draw.
    eventually(Duration::from_secs(10), "chart samples", || async {
        let (_, body) = http_get(&svc.listen, &format!("/status/{pool}")).await?;
        let v: Value = serde_json::from_str(&body).ok()?;
        (v["history"].as_array()?.len() >= 3).then_some(())
    })
    .await;

    // Chromium reads the page at a phone's width once its event stream is
    // live and has changed the pool's card since the page loaded; then
    // screenshots at a phone's width and a desktop's, kept as artifacts.
    let url = format!("http://{}/", svc.listen);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("status-page");
    std::fs::create_dir_all(&dir).expect("artifact dir");
    let card_js = format!("document.querySelector('section.pool[data-pool=\"{pool}\"]')");
    let shots = dir.clone();
    let dom = tokio::task::spawn_blocking(move || {
        let browser = Browser::start();
        let live = "document.getElementById('conn').dataset.state === 'live' \
                    && Number(document.body.dataset.events || 0) >= 2";
        let mut phone = browser.open(&url, 412, 900);
        phone.wait_for(&format!("!!{card_js}"), Duration::from_secs(20));
        let loaded = phone.eval(&format!("{card_js}.dataset.updated"));
        phone.wait_for(
            &format!("{live} && {card_js}.dataset.updated !== {loaded}"),
            Duration::from_secs(20),
        );
        let dom = phone.dom();
        phone.screenshot(&shots.join("phone.png"));
        let mut desktop = browser.open(&url, 1280, 900);
        desktop.wait_for(live, Duration::from_secs(20));
        desktop.screenshot(&shots.join("desktop.png"));
        dom
    })
    .await
    .expect("chromium task");
    eprintln!("status page screenshots: {}", dir.display());
    let status = svc.status().await;
    let p = pool_of(&status, &pool);
    assert!(settled(p), "still settled after the page was read: {p}");

    // Live: the event stream connected and delivered updates.
    assert_eq!(
        text_at(&dom, "id=\"conn\"").as_deref(),
        Some("live"),
        "event stream state"
    );
    let events = dom
        .split("data-events=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .and_then(|n| n.parse::<u32>().ok());
    assert!(
        events.is_some_and(|n| n >= 1),
        "updates received: {events:?}"
    );

    // The pool's numbers are /status's.
    let card = section(&dom, &pool);
    let d = &p["decision"];
    let r = &p["replicas"];
    let c = &p["observation"];
    for (key, want) in [
        ("desired", d["desired"].to_string()),
        ("running", r["ready"].to_string()),
        ("starting", r["starting"].to_string()),
        ("draining", r["draining"].to_string()),
        ("standby", r["standby"].to_string()),
        ("backlog", c["pending"].to_string()),
        ("in_flight", c["ack_pending"].to_string()),
        ("limit", d["limit"].as_str().unwrap_or("").to_string()),
        ("bounds", format!("{}–{}", d["min"], d["max"])),
        (
            "agents",
            p["agents"].as_array().map_or(0, Vec::len).to_string(),
        ),
    ] {
        assert_eq!(field(card, key), want, "{key} on the page vs /status");
    }
    assert!(
        field(card, "reason").contains("capped by max 3"),
        "the guardrail's reason: {}",
        field(card, "reason")
    );
    // Each agent with its role and what it holds.
    for a in p["agents"].as_array().into_iter().flatten() {
        let name = a["name"].as_str().unwrap_or_default();
        let row_at = card
            .find(&format!("data-agent=\"{name}\""))
            .unwrap_or_else(|| panic!("agent {name} on the page"));
        let row = &card[row_at..];
        assert_eq!(field(row, "role"), a["role"].as_str().unwrap_or_default());
        assert_eq!(field(row, "holds"), a["in_flight"].to_string());
    }
    // The chart: three panels, each drawing its series.
    let chart_at = card.find("data-k=\"chart\"").expect("a chart");
    let chart = &card[chart_at..];
    let samples: u32 = chart
        .split("data-samples=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(samples >= 3, "chart samples: {samples}");
    for panel in ["agents", "backlog", "arrivals"] {
        let at = chart
            .find(&format!("data-panel=\"{panel}\""))
            .unwrap_or_else(|| panic!("{panel} panel"));
        let svg = &chart[at..chart[at..].find("</svg>").map_or(chart.len(), |e| at + e)];
        assert!(
            svg.contains("<polyline") && svg.contains("points=\""),
            "{panel}: {svg}"
        );
    }
    assert!(card.contains("data-decision"), "last decisions listed");
    assert!(dom.contains("href=\"/metrics\"") && dom.contains("href=\"/status\""));

    // The terminal views say the same.
    let base = format!("http://{}", svc.listen);
    let out = tokio::process::Command::new(bin())
        .args(["status", "--url", &base])
        .output()
        .await
        .expect("jetpool status");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{pool} ")))
        .unwrap_or_else(|| panic!("a line for {pool}:\n{text}"));
    let cols: Vec<&str> = line.split_whitespace().collect();
    // POOL DESIRED RUNNING STARTING MIN MAX BACKLOG IN-FLIGHT ARRIVALS OVERRIDE GUARDRAIL
    assert_eq!(
        (cols[1], cols[2], cols[6], cols[7], cols[9], cols[10]),
        ("3", "3", "17", "3", "-", "max"),
        "{line}"
    );
    let out = tokio::process::Command::new(bin())
        .args(["explain", &pool, "--url", &base])
        .output()
        .await
        .expect("jetpool explain");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("guardrail max"), "{text}");
    assert!(text.contains("pending=17"), "{text}");

    svc.stop().await;
}
