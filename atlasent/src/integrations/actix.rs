//! actix-web integration (feature `actix`): [`Error`] is a
//! `ResponseError`, so a handler returning `Result<_, atlasent::Error>` (or
//! `?` on a `protect` call) answers 403, 429 with `Retry-After`, or 503.
//!
//! ```no_run
//! use actix_web::{web, App, HttpResponse};
//!
//! async fn deploy(client: web::Data<atlasent::Client>) -> Result<HttpResponse, atlasent::Error> {
//!     let permit = client.protect("deploy-bot", "deploy_to_production", &()).await?;
//!     Ok(HttpResponse::Ok().body(format!("deploying under {}", permit.permit_id())))
//! }
//!
//! # fn app() {
//! let app = App::new().route("/deploy", web::post().to(deploy));
//! # }
//! ```

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};

use crate::error::Error;

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.http_reply().status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
    }

    fn error_response(&self) -> HttpResponse {
        let reply = self.http_reply();
        let mut builder = HttpResponse::build(
            StatusCode::from_u16(reply.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
        );
        builder.insert_header((header::CONTENT_TYPE, "application/json"));
        if let Some(secs) = reply.retry_after {
            builder.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        builder.body(reply.body.to_string())
    }
}
