// Handlers are free functions: the guard's policy type cannot be declared inside an `impl`.
use aad_auth::api_auth_required;
use actix_web::HttpResponse;

struct Api;

impl Api {
    #[api_auth_required]
    async fn associated() -> HttpResponse {
        HttpResponse::Ok().finish()
    }
}

fn main() {
    let _ = Api;
}
