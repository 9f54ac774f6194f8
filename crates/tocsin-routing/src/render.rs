//! A plan as people read it: for each notification, the message its audience would receive.

use serde_json::{Value, json};
use tocsin_model::Alert;
use tocsin_notify::Message;

use crate::Plan;

/// The plan with, for each notification, who, when, and the message its audience would receive
/// (redacted as its visibility level says). `tocsin routes test` and `POST /api/v1/routes/test`
/// answer with this.
pub fn render_plan(alert: &Alert, plan: &Plan) -> Value {
    let notifications: Vec<Value> = plan
        .notifications
        .iter()
        .map(|n| {
            let message = Message::from_alert(alert, n.visibility, n.repeat > 0);
            json!({
                "at": n.at,
                "route": n.route,
                "plan": n.plan,
                "step": n.step,
                "repeat": n.repeat,
                "deferred_from": n.deferred_from,
                "audience": n.audience,
                "recipients": n.recipients,
                "visibility": n.visibility,
                "suppressed": n.suppressed,
                "message": message,
            })
        })
        .collect();
    json!({
        "alert": alert.id,
        "routes": plan.routes,
        "inhibited": plan.inhibited,
        "notifications": notifications,
    })
}
