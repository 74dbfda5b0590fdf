//! The demo shop's `Host` and `Origin` checks: a request whose `Host` is not one of the shop's
//! own addresses is refused (a DNS-rebinding page would reach the shop under its own name),
//! and so is a state-changing request whose `Origin` is another site's.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The hosts (`host[:port]`, lower case) and origins (`scheme://host[:port]`) the shop answers.
#[derive(Clone, Debug)]
pub(crate) struct OwnHosts(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    hosts: Vec<String>,
    origins: Vec<String>,
}

impl OwnHosts {
    /// The bound address, `localhost:<port>` (and the loopback addresses when bound to every
    /// interface), and the host of the public URL.
    pub(crate) fn new(bound: SocketAddr, public_url: Option<&str>) -> Self {
        let port = bound.port();
        let mut hosts = vec![bound.to_string(), format!("localhost:{port}")];
        if bound.ip().is_unspecified() {
            hosts.push(format!("127.0.0.1:{port}"));
            hosts.push(format!("[::1]:{port}"));
        }
        let mut origins: Vec<String> = hosts.iter().map(|h| format!("http://{h}")).collect();
        if let Some(url) = public_url
            && let Some((scheme, rest)) = url.split_once("://")
        {
            let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
            if !host.is_empty() {
                let host = host.to_ascii_lowercase();
                origins.push(format!("{}://{host}", scheme.to_ascii_lowercase()));
                hosts.push(host);
            }
        }
        Self(Arc::new(Inner { hosts, origins }))
    }

    /// The shop's own origins (`http://127.0.0.1:8080`, the public URL's), for the Klarna
    /// routes' allowed origins.
    pub(crate) fn origins(&self) -> &[String] {
        &self.0.origins
    }

    fn host(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        self.0.hosts.contains(&host)
    }

    fn origin(&self, origin: &str) -> bool {
        let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
        self.0.origins.contains(&origin)
    }
}

/// The middleware in front of every route.
pub(crate) async fn check(State(own): State<OwnHosts>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    if !host.is_some_and(|h| own.host(h)) {
        return (
            StatusCode::MISDIRECTED_REQUEST,
            "this shop does not answer to that Host (set --public-url for the name it is reached by)",
        )
            .into_response();
    }
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe
        && let Some(origin) = req.headers().get(header::ORIGIN)
        && !origin.to_str().is_ok_and(|o| own.origin(o))
    {
        return (
            StatusCode::FORBIDDEN,
            "cross-site request refused: the Origin is not this shop. Nothing was changed.",
        )
            .into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::OwnHosts;

    #[test]
    fn own_hosts_and_origins() {
        let own = OwnHosts::new(
            "0.0.0.0:8080".parse().unwrap(),
            Some("https://Shop.Example.org/base"),
        );
        for h in [
            "0.0.0.0:8080",
            "localhost:8080",
            "127.0.0.1:8080",
            "shop.example.org",
        ] {
            assert!(own.host(h), "{h}");
        }
        for h in ["evil.example:8080", "127.0.0.1:8081", "localhost", ""] {
            assert!(!own.host(h), "{h}");
        }
        assert!(own.origin("http://localhost:8080"));
        assert!(own.origin("https://shop.example.org"));
        assert!(!own.origin("http://shop.example.org"));
        assert!(!own.origin("null"));
        assert!(!own.origin("http://evil.example:8080"));
    }
}
