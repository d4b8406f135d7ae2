//! A real headless Chromium (Debian's `chromium`), driven over WebDriver by
//! Debian's `chromedriver` (package `chromium-driver`; `.ci/run` installs
//! both). `CHROMIUM` and `CHROMEDRIVER` name other binaries.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use super::{free_port, PATIENCE};

/// A chromedriver process and one browser session; both end on drop.
pub struct Browser {
    pub client: Client,
    driver: Child,
}

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium through it.
    pub async fn start() -> Self {
        let port = free_port();
        let driver_bin = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let driver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "chromedriver on PATH (apt-get install chromium chromium-driver; .ci/run does)",
            );
        let url = format!("http://127.0.0.1:{port}");
        let binary = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let profile = std::env::temp_dir().join(format!("chromium-{}-{port}", std::process::id()));
        let options = json!({
            "binary": binary,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
                format!("--user-data-dir={}", profile.display()),
            ],
        });
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), options);
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            let attempt = ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&url)
                .await;
            match attempt {
                Ok(client) => break client,
                Err(e) if tokio::time::Instant::now() > deadline => {
                    panic!("no WebDriver session from {driver_bin}: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        Self { client, driver }
    }

    /// The element with this id, once it exists.
    pub async fn by_id(&self, id: &str) -> Element {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Id(id))
            .await
            .unwrap_or_else(|e| panic!("no #{id}: {e}"))
    }

    /// Types `text` into the element with this id.
    pub async fn type_into(&self, id: &str, text: &str) {
        let field = self.by_id(id).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    pub async fn click(&self, id: &str) {
        self.by_id(id).await.click().await.unwrap();
    }

    pub async fn text(&self, id: &str) -> String {
        self.by_id(id).await.text().await.unwrap()
    }

    /// Polls until `probe` (run on the text of the element with this id)
    /// holds; panics after PATIENCE with what was last seen.
    pub async fn until_text(&self, id: &str, what: &str, probe: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let text = self.text(id).await;
            if probe(&text) {
                return text;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "never happened: {what}; #{id} says {text:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// An attribute of the element with this id.
    pub async fn attr(&self, id: &str, name: &str) -> Option<String> {
        self.by_id(id).await.attr(name).await.unwrap()
    }

    /// A PNG of the page, for docs.
    pub async fn screenshot(&self, path: &std::path::Path) {
        let top = "window.scrollTo(0, 0); document.activeElement.blur();";
        self.client.execute(top, vec![]).await.unwrap();
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(path, png).unwrap();
    }

    /// Ends the browser session.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Browser {
    /// Runs `body` as an async function in the page and returns what it
    /// returns (JSON); a throw fails the test with its code or message.
    pub async fn js(&self, body: &str) -> serde_json::Value {
        let script = format!(
            "const done = arguments[arguments.length - 1];\n\
             (async () => {{ {body} }})().then(\n\
               (value) => done({{ ok: value === undefined ? null : value }}),\n\
               (e) => done({{ err: String((e && (e.code ? e.code + ': ' + e.message : e.message)) || e) }}));"
        );
        let answer = self
            .client
            .execute_async(&script, vec![])
            .await
            .expect("script runs");
        match answer.get("ok") {
            Some(value) => value.clone(),
            None => panic!("the page threw: {}\n{body}", answer["err"]),
        }
    }

    /// Opens the client's test page, its hub at `hub` (a ws:// URL).
    pub async fn open_client_page(&self, pages: &super::pages::Pages, hub: &str) {
        let url = format!("{}/clients/typescript/test/page.html", pages.base);
        self.client.goto(&url).await.unwrap();
        self.until_text("status", "the page loads the client", |t| t == "ready")
            .await;
        self.js(&format!(
            "window.HUB = {};",
            serde_json::to_string(hub).unwrap()
        ))
        .await;
    }

    /// Opens the browser chat example (`query` after its `hub`) in the
    /// current tab and joins the lobby as `name`.
    pub async fn join_chat(&self, pages: &super::pages::Pages, hub: &str, query: &str, name: &str) {
        let url = format!(
            "{}/examples/browser-chat/index.html?hub={hub}{query}",
            pages.base
        );
        self.client.goto(&url).await.unwrap();
        self.type_into("name", name).await;
        self.click("join-button").await;
        self.until_text("messages", "the chat is joined", |t| {
            t.contains("you joined lobby")
        })
        .await;
    }
}

/// A browser on the client's test page, its hub at `hub`; the page server
/// lives as long as the first half.
pub async fn client_page(hub: &str) -> (super::pages::Pages, Browser) {
    let pages = super::pages::Pages::start();
    let browser = Browser::start().await;
    browser.open_client_page(&pages, hub).await;
    (pages, browser)
}

/// Connects the page's client as `address` (more options as a JS object
/// literal) and records its events in `window.events`.
pub async fn connect(browser: &Browser, address: &str, options: &str) {
    let address = serde_json::to_string(address).unwrap();
    browser
        .js(&format!(
            "window.hub = record(new SignalHub.HubClient({{ url: HUB, address: {address}, reconnectMaxMs: 300, {options} }}));\n\
             window.got = [];\n\
             window.direct = [];\n\
             hub.on('message', (m) => direct.push(m));\n\
             await hub.connect();"
        ))
        .await;
}
