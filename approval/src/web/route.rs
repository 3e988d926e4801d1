//! Which page a request asks for. In recorded mode a link is
//! `{APPROVAL_BASE_URL}/a/{link id}`; the base URL may have a path of its own,
//! so only the last two segments count.

use lambda_http::{Request, RequestExt};

use crate::record::id::{LinkId, MalformedId};

/// What the path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/a/{id}` with a well-formed id.
    Link(LinkId),
    /// `/a/{something that is not an id}`.
    MalformedLink,
    /// Any other path.
    Unknown,
}

/// The route of `request`: its raw path (without an HTTP API stage), or the
/// URI's path when the event gave none.
pub fn route(request: &Request) -> Route {
    let raw = request.raw_http_path();
    let path = if raw.is_empty() {
        request.uri().path()
    } else {
        raw
    };
    route_of_path(path)
}

/// The route of `path`.
pub fn route_of_path(path: &str) -> Route {
    let Some((prefix, last)) = path.rsplit_once('/') else {
        return Route::Unknown;
    };
    if prefix != "/a" && !prefix.ends_with("/a") {
        return Route::Unknown;
    }
    match LinkId::parse(last) {
        Ok(id) => Route::Link(id),
        Err(MalformedId) => Route::MalformedLink,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "AbCdEfGhIjKlMnOpQrStUg";

    #[test]
    fn a_link_path_names_its_id() {
        assert_eq!(
            route_of_path(&format!("/a/{ID}")),
            Route::Link(LinkId::parse(ID).unwrap())
        );
    }

    #[test]
    fn a_base_url_with_a_path_of_its_own_still_routes() {
        assert_eq!(
            route_of_path(&format!("/approvals/a/{ID}")),
            Route::Link(LinkId::parse(ID).unwrap())
        );
    }

    #[test]
    fn a_bad_id_under_a_is_malformed() {
        for path in [
            "/a/",
            "/a/short",
            "/a/AbCdEfGhIjKlMnOpQrStU+",
            &format!("/a/{ID}x"),
        ] {
            assert_eq!(route_of_path(path), Route::MalformedLink, "{path}");
        }
    }

    #[test]
    fn other_paths_are_unknown() {
        for path in [
            "",
            "/",
            "/favicon.ico",
            &format!("/b/{ID}"),
            &format!("/ba/{ID}"),
            &format!("/a/{ID}/"),
        ] {
            assert_eq!(route_of_path(path), Route::Unknown, "{path}");
        }
    }

    #[test]
    fn the_uri_path_serves_when_there_is_no_raw_path() {
        let request = lambda_http::http::Request::builder()
            .uri(format!("https://approve.example/a/{ID}?x=1"))
            .body(lambda_http::Body::Empty)
            .unwrap();
        assert_eq!(route(&request), Route::Link(LinkId::parse(ID).unwrap()));
    }
}
