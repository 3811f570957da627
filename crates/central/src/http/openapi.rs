//! `/openapi.json`, generated from the handlers' `#[utoipa::path]` annotations.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::handlers;

struct BearerSchemes;

impl Modify for BearerSchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("device_token", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        components.add_security_scheme("admin_token", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Frontdesk central platform", description = "Sync, online booking, enrollment and admin API. \
        Bodies are the serde forms of the frontdesk-protocol types named in each response description."),
    paths(
        handlers::healthz, handlers::readyz, handlers::metrics, handlers::openapi,
        handlers::enroll, handlers::push, handlers::pull, handlers::wait, handlers::device_site,
        handlers::availability, handlers::book_online, handlers::cancel_online,
        handlers::list_sites, handlers::put_site, handlers::put_department, handlers::put_provider,
        handlers::generate_sessions, handlers::create_enroll_code, handlers::suspend_session,
        handlers::resume_session, handlers::set_session_pools, handlers::delete_session, handlers::list_devices,
        handlers::revoke_device, handlers::verify_audit, handlers::leases, handlers::get_lease_policy,
        handlers::put_lease_policy, handlers::site_leases, handlers::lease_round,
    ),
    modifiers(&BearerSchemes)
)]
struct ApiDoc;

/// The OpenAPI document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
