//! Two replicas sharing one real Redis, through the real binary.
//!
//! Starts Debian's `redis-server` on a free loopback port (its own temporary
//! directory, `--appendonly yes --appendfsync always`) and two `clerk serve
//! --shopper-store redis://…` replicas, each on its own copy of one index. Checks, in
//! order: an event accepted by A shapes the next search on B; a forget and an opt-out
//! on A are honoured by B; a product upsert and delete on A are searchable on B within
//! 1 s; a reload on A reloads B; events acknowledged before Redis is killed survive its
//! restart; while Redis is down searches answer unpersonalized and events get 503;
//! both replicas reconnect when it returns; a replica stopped while a product changed
//! catches up when it starts again, and one whose index is rebuilt replays the feed.
//! Also: a Redis without `appendfsync always` is refused, concurrent batches for one
//! shopper on both replicas lose nothing, and `events_after` reads Redis in order.
//!
//! Without `redis-server` the test is skipped with a printed reason (and fails under
//! `CI=true`, where `.ci/run` installs it).

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::server::Server;
use reqwest::blocking::Client;
use serde_json::{Value, json};

/// A `redis-server` on loopback, killed when dropped.
struct Redis {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Redis {
    /// Starts `redis-server` on `port` in `dir`; `None` when it is not installed.
    fn start(port: u16, dir: &Path) -> Option<Redis> {
        Redis::start_with(
            port,
            dir,
            &["--appendonly", "yes", "--appendfsync", "always"],
        )
    }

    /// The same with other persistence settings.
    fn start_with(port: u16, dir: &Path, persistence: &[&str]) -> Option<Redis> {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(persistence)
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let redis = Redis {
            child,
            port,
            dir: dir.to_path_buf(),
        };
        redis.wait_ready();
        Some(redis)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn wait_ready(&self) {
        let client = redis::Client::open(self.url()).expect("redis url");
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(mut c) = client.get_connection_with_timeout(Duration::from_millis(200))
                && redis::cmd("PING").query::<String>(&mut c).is_ok()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server on port {} did not answer", self.port);
    }

    /// Kills the server without letting it save anything (a crash).
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn restart(&mut self) {
        self.kill();
        let again = Redis::start(self.port, &self.dir).expect("redis-server restarts");
        *self = again;
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn redis_installed() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// A copy of the repository's configuration folders, so a test can change one.
fn config_copy(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    for folder in ["index-schema", "synonyms", "boosts"] {
        copy_dir(&common::repo_root().join(folder), &dir.join(folder));
    }
    dir
}

struct Replica {
    server: Server,
    data: PathBuf,
    config: PathBuf,
}

impl Replica {
    fn start(data: &Path, config: &Path, redis: &Redis) -> Replica {
        let url = redis.url();
        let server = Server::start_with_config(data, config, &["--shopper-store", &url]);
        Replica {
            server,
            data: data.to_path_buf(),
            config: config.to_path_buf(),
        }
    }

    fn url(&self, path: &str) -> String {
        self.server.url(path)
    }
}

fn get(client: &Client, url: &str) -> (u16, Value) {
    let response = client.get(url).send().expect("GET");
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

fn send(client: &Client, method: &str, url: &str, body: Option<Value>) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = client.request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().expect("request");
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

/// Ids of a search's hits.
fn ids(body: &Value) -> Vec<String> {
    body["hits"]
        .as_array()
        .map(|hits| {
            hits.iter()
                .filter_map(|h| h["id"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Polls `check` until it holds or `limit` passes; returns how long it took.
fn within(limit: Duration, mut check: impl FnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    loop {
        if check() {
            return Some(started.elapsed());
        }
        if started.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A shopper id that is served personalized (not in the holdout group).
fn personalized_shopper(prefix: &str) -> String {
    let share = common::demo_schema().affinity.holdout_share;
    (0..)
        .map(|i| format!("{prefix}-{i}"))
        .find(|id| !clerk::shoppers::in_holdout(id, share))
        .expect("some shopper is personalized")
}

#[test]
fn two_replicas_share_events_products_and_reloads_through_redis() {
    if !redis_installed() {
        let reason = "redis-server is not installed (apt-get install redis-server)";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{reason}: CI must run the replica test");
        }
        eprintln!("SKIPPED two_replicas_share_events_products_and_reloads_through_redis: {reason}");
        return;
    }
    let fixture = common::demo_fixture(1_500, 7);
    let root = fixture.dir.path();
    let redis_dir = root.join("redis");
    std::fs::create_dir_all(&redis_dir).expect("redis dir");
    let mut redis = Redis::start(free_port(), &redis_dir).expect("redis-server starts");
    a_redis_that_could_lose_events_is_refused(&fixture.data_dir(), &redis_dir);
    let (data_a, data_b) = (root.join("a"), root.join("b"));
    copy_dir(&fixture.data_dir(), &data_a);
    copy_dir(&fixture.data_dir(), &data_b);
    let a = Replica::start(&data_a, &config_copy(root, "config-a"), &redis);
    let mut b = Replica::start(&data_b, &config_copy(root, "config-b"), &redis);
    let client = Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");

    events_on_a_shape_searches_on_b(&client, &a, &b);
    forget_and_opt_out_on_a_hold_on_b(&client, &a, &b);
    events_read_back_in_recording_order(&redis);
    concurrent_batches_on_both_replicas_lose_nothing(&a, &b);
    product_changes_on_a_reach_b_within_a_second(&client, &a, &b);
    reload_on_a_reloads_b(&client, &a, &b);
    acknowledged_events_survive_a_redis_restart(&client, &a, &b, &mut redis);
    redis_down_costs_personalization_not_search(&client, &a, &b, &mut redis);
    a_restarted_replica_catches_up(&client, &a, &mut b, &redis);
    a_rebuilt_index_replays_the_feed(&client, &a, &b, &root.join("catalog.jsonl"));
    retention_drops_old_events_and_keeps_profiles(&redis);
}

/// Retention on the Redis store: events older than the window leave the stream and
/// the shoppers' id lists; profiles stay.
fn retention_drops_old_events_and_keeps_profiles(redis: &Redis) {
    use clerk::shoppers::ShopperStore;
    let store = clerk::shoppers::RedisStore::open(&redis.url()).expect("store");
    let before = store.events_after(None, 100_000).expect("events");
    assert!(!before.is_empty(), "the scenario stored events");
    let oldest = before.iter().map(|(_, e)| e.ts).min().unwrap_or(0);
    assert_eq!(
        store.expire_events(oldest).expect("expire"),
        0,
        "none older than the oldest"
    );
    let shopper = before[0].1.shopper.clone();
    let had_profile = store.profile(&shopper).expect("profile").is_some();
    let now = chrono::Utc::now().timestamp();
    let dropped = store.expire_events(now + 60).expect("expire");
    assert_eq!(dropped, before.len());
    assert!(
        store
            .events_after(None, 100_000)
            .expect("events")
            .is_empty()
    );
    assert_eq!(
        store.profile(&shopper).expect("profile").is_some(),
        had_profile
    );
    let lists: i64 = redis::Client::open(redis.url().as_str())
        .and_then(|c| c.get_connection())
        .and_then(|mut c| {
            redis::cmd("EXISTS")
                .arg(format!("clerk:shopper-events:{shopper}"))
                .query(&mut c)
        })
        .expect("redis");
    assert_eq!(lists, 0, "the shopper's id list emptied with the stream");

    // Idle profiles go too, walked with SCAN a few keys at a time; opt-outs stay.
    store.set_opted_out("keeper", true).expect("opt out");
    let expire_all = |idle_before: i64| {
        let (mut dropped, mut cursor, mut steps) = (0, None, 0);
        loop {
            let (n, next) = store
                .expire_profiles(idle_before, cursor, 2)
                .expect("expire profiles");
            dropped += n;
            steps += 1;
            cursor = next;
            if cursor.is_none() || steps > 10_000 {
                return dropped;
            }
        }
    };
    assert_eq!(expire_all(oldest - 1), 0, "nobody idle that long");
    assert!(expire_all(now + 60) > 0);
    assert!(store.profile(&shopper).expect("profile").is_none());
    assert!(
        store
            .profile("keeper")
            .expect("profile")
            .is_some_and(|p| p.opted_out)
    );
    let left: Vec<String> = redis::Client::open(redis.url().as_str())
        .and_then(|c| c.get_connection())
        .and_then(|mut c| redis::cmd("KEYS").arg("clerk:profile:*").query(&mut c))
        .expect("redis");
    assert!(
        left.iter().all(|k| store_is_opted_out(&store, k)),
        "{left:?}"
    );
}

/// Whether the profile under Redis key `key` is an opt-out.
fn store_is_opted_out(store: &clerk::shoppers::RedisStore, key: &str) -> bool {
    use clerk::shoppers::ShopperStore;
    let shopper = key.trim_start_matches("clerk:profile:");
    store
        .profile(shopper)
        .ok()
        .flatten()
        .is_some_and(|p| p.opted_out)
}

/// Positions of `brand`'s products in a search's hits.
fn brand_ranks(body: &Value, brand: &str) -> Vec<usize> {
    let hits = body["hits"].as_array().cloned().unwrap_or_default();
    (0..hits.len())
        .filter(|i| hits[*i]["product"]["brand"] == brand)
        .collect()
}

/// Position of the product `id` in a search's hits; one past the page when absent.
fn rank_of(body: &Value, id: &Value) -> usize {
    let hits = body["hits"].as_array().cloned().unwrap_or_default();
    hits.iter()
        .position(|h| &h["id"] == id)
        .unwrap_or(hits.len())
}

/// `clerk serve` refuses a Redis whose settings could lose an acknowledged event.
fn a_redis_that_could_lose_events_is_refused(data: &Path, scratch: &Path) {
    let dir = scratch.join("lazy");
    std::fs::create_dir_all(&dir).expect("dir");
    let lazy = ["--appendonly", "yes", "--appendfsync", "everysec"];
    let redis = Redis::start_with(free_port(), &dir, &lazy).expect("redis-server starts");
    let output = common::server::clerk()
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .arg("--config-dir")
        .arg(common::repo_root())
        .args(["--shopper-store", &redis.url()])
        .output()
        .expect("run clerk serve");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "served on a lazy Redis: {said}");
    assert!(said.contains("appendfsync is \"everysec\""), "{said}");
    assert!(said.contains("--appendfsync always"), "{said}");
}

fn events_on_a_shape_searches_on_b(client: &Client, a: &Replica, b: &Replica) {
    let shopper = personalized_shopper("shaped");
    let query = "/v1/search?q=&per_page=100&explain=true";
    let (status, plain) = get(client, &b.url(query));
    assert_eq!(status, 200, "{plain}");
    let hits = plain["hits"].as_array().cloned().unwrap_or_default();
    assert!(hits.len() >= 40, "too few products: {plain}");
    // The brand of the last product shown: its products should rise for a loyal buyer.
    let brand = hits[hits.len() - 1]["product"]["brand"]
        .as_str()
        .expect("brand")
        .to_string();
    let bought: Vec<&Value> = hits
        .iter()
        .filter(|h| h["product"]["brand"] == brand.as_str())
        .collect();
    let events: Vec<Value> = (0..5)
        .map(|i| json!({"type": "purchase", "shopper": shopper, "product": bought[i % bought.len()]["id"]}))
        .collect();
    let (status, body) = send(client, "POST", &a.url("/v1/events"), Some(json!(events)));
    assert_eq!((status, &body["accepted"]), (202, &json!(5)), "{body}");
    let (status, shaped) = get(client, &b.url(&format!("{query}&shopper={shopper}")));
    assert_eq!(status, 200, "{shaped}");
    assert_eq!(shaped["variant"], "personalized", "{shaped}");
    assert_eq!(
        shaped["total"], plain["total"],
        "personalization only re-ranks"
    );
    let (before, after) = (brand_ranks(&plain, &brand), brand_ranks(&shaped, &brand));
    assert!(!after.is_empty(), "{brand} vanished from the page");
    // The same products, followed from the plain page to the shaped one (more of the
    // brand may join the page, so the brand's mean position alone proves nothing).
    let followed: Vec<usize> = before
        .iter()
        .map(|&i| rank_of(&shaped, &plain["hits"][i]["id"]))
        .collect();
    let mean = |r: &[usize]| r.iter().sum::<usize>() as f64 / r.len() as f64;
    // They rise on average, and the brand's best does not fall (it may already be
    // first on a browse page).
    assert!(
        after[0] <= before[0] && mean(&followed) < mean(&before),
        "{brand} did not rise on B: {before:?} → {followed:?} (brand now at {after:?})"
    );
    let lifted = &shaped["hits"][after[0]]["explain"];
    assert!(lifted["affinity"].as_f64().unwrap_or(0.0) > 0.0, "{lifted}");
    let (status, profile) = get(client, &b.url(&format!("/v1/shoppers/{shopper}")));
    assert_eq!(status, 200, "{profile}");
    assert_eq!(profile["events"]["purchase"], 5, "{profile}");
}

fn forget_and_opt_out_on_a_hold_on_b(client: &Client, a: &Replica, b: &Replica) {
    let (forgotten, opted) = (
        personalized_shopper("forget"),
        personalized_shopper("optout"),
    );
    for shopper in [&forgotten, &opted] {
        let event = json!([{"type": "purchase", "shopper": shopper, "product": "p-1001"}]);
        let (status, body) = send(client, "POST", &a.url("/v1/events"), Some(event));
        assert_eq!(status, 202, "{body}");
        assert_eq!(
            get(client, &b.url(&format!("/v1/shoppers/{shopper}"))).0,
            200
        );
    }
    let (status, _) = send(
        client,
        "DELETE",
        &a.url(&format!("/v1/shoppers/{forgotten}")),
        None,
    );
    assert_eq!(status, 204);
    let (status, body) = get(client, &b.url(&format!("/v1/shoppers/{forgotten}")));
    assert_eq!(status, 404, "B still knows a forgotten shopper: {body}");
    let (status, _) = send(
        client,
        "POST",
        &a.url(&format!("/v1/shoppers/{opted}/opt-out")),
        None,
    );
    assert_eq!(status, 200);
    let (_, search) = get(
        client,
        &b.url(&format!("/v1/search?q=lamp&shopper={opted}")),
    );
    assert_eq!(
        search["variant"], "anonymous",
        "B personalizes an opted-out shopper"
    );
    let (_, profile) = get(client, &b.url(&format!("/v1/shoppers/{opted}")));
    assert_eq!(profile["opted_out"], true, "{profile}");
    assert_eq!(profile["affinities"], json!([]), "{profile}");
}

/// The crowd-learning feed (`events_after`) from Redis: every stored event once, in
/// recording order, the forgotten shopper's gone.
fn events_read_back_in_recording_order(redis: &Redis) {
    use clerk::shoppers::ShopperStore;
    let store = clerk::shoppers::RedisStore::open(&redis.url()).expect("store");
    let all = store.events_after(None, 10_000).expect("events");
    let seqs: Vec<u64> = all.iter().map(|(seq, _)| *seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_eq!(
        all.len(),
        6,
        "5 shaping events, 1 opt-out shopper's, 0 forgotten"
    );
    assert!(all.iter().all(|(_, e)| !e.shopper.starts_with("forget")));
    assert_eq!(all[0].1.kind, clerk::events::EventKind::Purchase);
    let rest = store.events_after(Some(seqs[0]), 2).expect("events");
    assert_eq!(rest, all[1..3].to_vec());
    let mut walked = 0;
    store.for_each_event(&mut |_| walked += 1).expect("walk");
    assert_eq!(walked, all.len());
}

/// Both replicas move one shopper's profile at the same time: every event counts once
/// (the optimistic transaction starts over instead of overwriting the other's update).
fn concurrent_batches_on_both_replicas_lose_nothing(a: &Replica, b: &Replica) {
    let shopper = personalized_shopper("busy");
    let writers: Vec<_> = [a.url("/v1/events"), b.url("/v1/events")]
        .into_iter()
        .map(|url| {
            let shopper = shopper.clone();
            std::thread::spawn(move || {
                let client = Client::new();
                for _ in 0..15 {
                    let event = json!([{"type": "view", "shopper": shopper, "product": "p-1004"}]);
                    let (status, body) = send(&client, "POST", &url, Some(event));
                    assert_eq!(status, 202, "{body}");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().expect("writer");
    }
    let (_, profile) = get(&Client::new(), &a.url(&format!("/v1/shoppers/{shopper}")));
    assert_eq!(profile["events"]["view"], 30, "{profile}");
}

fn product_changes_on_a_reach_b_within_a_second(client: &Client, a: &Replica, b: &Replica) {
    let product = json!([{"id": "p-quokka", "title": "Quokka velvet armchair", "brand": "Nordby", "price": 321.0}]);
    let (status, body) = send(client, "PUT", &a.url("/v1/products"), Some(product));
    assert_eq!((status, &body["upserted"]), (200, &json!(1)), "{body}");
    let found_on_a = ids(&get(client, &a.url("/v1/search?q=quokka")).1);
    assert_eq!(
        found_on_a,
        ["p-quokka"],
        "A answered before it applied its own upsert"
    );
    let took = within(Duration::from_secs(1), || {
        ids(&get(client, &b.url("/v1/search?q=quokka")).1) == ["p-quokka"]
    });
    assert!(took.is_some(), "the upsert did not reach B within 1 s");
    eprintln!("upsert on A searchable on B after {took:?} (from A's answer)");
    let (status, _) = send(client, "DELETE", &a.url("/v1/products/p-quokka"), None);
    assert_eq!(status, 204);
    let took = within(Duration::from_secs(1), || {
        ids(&get(client, &b.url("/v1/search?q=quokka")).1).is_empty()
    });
    assert!(took.is_some(), "the delete did not reach B within 1 s");
    let (status, body) = send(client, "DELETE", &b.url("/v1/products/p-quokka"), None);
    assert_eq!(status, 404, "{body}");
}

fn reload_on_a_reloads_b(client: &Client, a: &Replica, b: &Replica) {
    let (_, plain) = get(client, &b.url("/v1/search?q=sofa&per_page=40"));
    let pinned = ids(&plain)[30].clone();
    let rule = format!(
        "[[rule]]\nname = \"replica test pin\"\nquery = \"sofa\"\npin = [{{ id = \"{pinned}\", position = 1 }}]\n"
    );
    for replica in [a, b] {
        std::fs::write(replica.config.join("boosts/replica-test.toml"), &rule).expect("rule");
    }
    let (status, body) = send(client, "POST", &a.url("/v1/admin/reload"), None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["replicas"]["broadcast"], true, "{body}");
    let took = within(Duration::from_secs(2), || {
        ids(&get(client, &b.url("/v1/search?q=sofa")).1).first() == Some(&pinned)
    });
    assert!(took.is_some(), "B did not reload when A was asked to");
}

fn acknowledged_events_survive_a_redis_restart(
    client: &Client,
    a: &Replica,
    b: &Replica,
    redis: &mut Redis,
) {
    let shopper = personalized_shopper("durable");
    let event = json!([{"type": "add_to_cart", "shopper": shopper, "product": "p-1002"}]);
    let (status, body) = send(client, "POST", &b.url("/v1/events"), Some(event));
    assert_eq!(status, 202, "{body}");
    redis.restart();
    let took = within(Duration::from_secs(10), || {
        get(client, &a.url(&format!("/v1/shoppers/{shopper}"))).0 == 200
    });
    assert!(
        took.is_some(),
        "A did not reconnect after the Redis restart"
    );
    let (_, profile) = get(client, &a.url(&format!("/v1/shoppers/{shopper}")));
    assert_eq!(
        profile["events"]["add_to_cart"], 1,
        "the event was lost: {profile}"
    );
}

fn redis_down_costs_personalization_not_search(
    client: &Client,
    a: &Replica,
    b: &Replica,
    redis: &mut Redis,
) {
    let shopper = personalized_shopper("down");
    redis.kill();
    let (status, search) = get(
        client,
        &b.url(&format!("/v1/search?q=sofa&shopper={shopper}")),
    );
    assert_eq!(status, 200, "{search}");
    assert_eq!(search["variant"], "anonymous");
    assert_eq!(search["personalization"], "unavailable", "{search}");
    assert!(search["total"].as_u64().unwrap_or(0) > 0);
    let event = json!([{"type": "view", "shopper": shopper, "product": "p-1003"}]);
    let (status, body) = send(client, "POST", &a.url("/v1/events"), Some(event.clone()));
    assert_eq!(
        status, 503,
        "an event was acknowledged without Redis: {body}"
    );
    assert_eq!(body["error"]["code"], "store_unavailable", "{body}");
    let product = json!([{"id": "p-lost", "title": "Lost lamp"}]);
    let (status, body) = send(client, "PUT", &a.url("/v1/products"), Some(product));
    assert_eq!(status, 503, "{body}");
    let port = redis.port;
    *redis = Redis::start(port, &redis.dir.clone()).expect("redis-server returns");
    for replica in [a, b] {
        let took = within(Duration::from_secs(10), || {
            send(
                client,
                "POST",
                &replica.url("/v1/events"),
                Some(event.clone()),
            )
            .0 == 202
        });
        assert!(took.is_some(), "a replica did not reconnect to Redis");
    }
    let product = json!([{"id": "p-back", "title": "Returning rattan lamp"}]);
    let took = within(Duration::from_secs(10), || {
        send(client, "PUT", &a.url("/v1/products"), Some(product.clone())).0 == 200
    });
    assert!(took.is_some(), "the catalog feed did not reconnect");
    let took = within(Duration::from_secs(1), || {
        ids(&get(client, &b.url("/v1/search?q=rattan%20lamp")).1).contains(&"p-back".to_string())
    });
    assert!(took.is_some(), "B's feed did not reconnect");
    let (_, search) = get(
        client,
        &b.url(&format!("/v1/search?q=sofa&shopper={shopper}")),
    );
    assert_eq!(search["variant"], "personalized", "{search}");
    assert!(search.get("personalization").is_none(), "{search}");
}

fn a_restarted_replica_catches_up(client: &Client, a: &Replica, b: &mut Replica, redis: &Redis) {
    assert!(b.server.stop(), "B did not stop cleanly");
    let product = json!([{"id": "p-wombat", "title": "Wombat wool rug", "price": 88.0}]);
    let (status, body) = send(client, "PUT", &a.url("/v1/products"), Some(product));
    assert_eq!(status, 200, "{body}");
    let (data, config) = (b.data.clone(), b.config.clone());
    *b = Replica::start(&data, &config, redis);
    let found = ids(&get(client, &b.url("/v1/search?q=wombat")).1);
    assert_eq!(
        found,
        ["p-wombat"],
        "B did not catch up with the feed at start-up"
    );
    let (_, gone) = get(client, &b.url("/v1/search?q=quokka"));
    assert!(
        ids(&gone).is_empty(),
        "B resurrected a deleted product: {gone}"
    );
}

/// `clerk index` on a serving replica: the new index holds no feed position, so the
/// replica replays the feed into it — products deleted or added through the feed stay
/// so after the switch.
fn a_rebuilt_index_replays_the_feed(client: &Client, a: &Replica, b: &Replica, catalog: &Path) {
    let (status, _) = send(client, "DELETE", &a.url("/v1/products/p-1010"), None);
    assert_eq!(status, 204);
    let built = common::server::clerk()
        .args(["index", "--catalog"])
        .arg(catalog)
        .arg("--data-dir")
        .arg(&b.data)
        .arg("--config-dir")
        .arg(&b.config)
        .output()
        .expect("clerk index");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let switched = loop {
        match b.server.log.recv_timeout(Duration::from_millis(200)) {
            Ok(line) if line.contains("switched to index") => break true,
            _ if Instant::now() > deadline => break false,
            _ => {}
        }
    };
    assert!(switched, "B did not switch to the rebuilt index");
    let took = within(Duration::from_secs(5), || {
        ids(&get(client, &b.url("/v1/search?q=wombat")).1) == ["p-wombat"]
    });
    assert!(took.is_some(), "the rebuilt index did not replay the feed");
    let (status, _) = send(client, "DELETE", &b.url("/v1/products/p-1010"), None);
    assert_eq!(
        status, 404,
        "a product deleted through the feed is back after a rebuild"
    );
}
