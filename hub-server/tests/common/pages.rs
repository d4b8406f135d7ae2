//! Serves the repository's browser files (the TypeScript client's build and
//! test page, the browser examples) over HTTP on loopback, so a real
//! browser loads them as it would from any web server: ES modules do not
//! load from `file://`.

use std::path::{Component, Path, PathBuf};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};

/// Folders of the repository a page may load from.
const SERVED: &[&str] = &[
    "clients/typescript/dist/",
    "clients/typescript/test/",
    "examples/browser-chat/",
];

/// A static file server for [`SERVED`]; stops on drop.
pub struct Pages {
    pub base: String,
    handle: actix_web::dev::ServerHandle,
}

impl Pages {
    pub fn start() -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            actix_rt::System::new().block_on(async move {
                let root = web::Data::new(root);
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(root.clone())
                        .default_service(web::get().to(file))
                })
                .workers(1)
                .bind("127.0.0.1:0")
                .expect("bind");
                let addr = server.addrs()[0];
                let server = server.run();
                tx.send((addr, server.handle())).unwrap();
                let _ = server.await;
            });
        });
        let (addr, handle) = rx.recv().expect("page server starts");
        Self {
            base: format!("http://{addr}"),
            handle,
        }
    }
}

impl Drop for Pages {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

async fn file(request: HttpRequest, root: web::Data<PathBuf>) -> HttpResponse {
    let path = request.path().trim_start_matches('/');
    let safe = Path::new(path)
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    if !safe || !SERVED.iter().any(|dir| path.starts_with(dir)) {
        return HttpResponse::NotFound().finish();
    }
    let kind = match Path::new(path).extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        _ => "application/octet-stream",
    };
    match std::fs::read(root.join(path)) {
        Ok(body) => HttpResponse::Ok().content_type(kind).body(body),
        Err(_) => HttpResponse::NotFound().finish(),
    }
}
