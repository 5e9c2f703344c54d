use aad_auth::api_auth_required;
use actix_web::HttpResponse;

struct Api;

impl Api {
    #[api_auth_required]
    async fn by_ref(&self) -> HttpResponse {
        HttpResponse::Ok().finish()
    }

    #[api_auth_required]
    async fn by_value(self: Box<Self>) -> HttpResponse {
        HttpResponse::Ok().finish()
    }
}

fn main() {
    let _ = Api;
}
