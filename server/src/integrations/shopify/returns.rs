//! Creating a return: Shopify's REST API cannot, so this uses the GraphQL Admin API
//! (`returnableFulfillments`, then `returnCreate`). The return appears in the list of
//! `refunds` once the merchant refunds it.

use serde::Deserialize;
use serde_json::json;

use super::{
    ShopifyConnector,
    client::parse,
    shapes::{gid_tail, non_empty, order_key},
};
use crate::integrations::{NewReturn, SourceError, model::*};

impl ShopifyConnector {
    /// Shopify's REST API cannot create returns, so this uses the GraphQL Admin API, which
    /// can (scopes `read_returns`, `write_returns`), rather than refusing with a 501:
    ///
    /// 1. the order is resolved to its numeric id (see `orders`);
    /// 2. `returnableFulfillments(orderId:)` lists the fulfilled line items that can still be
    ///    returned, with their SKU and returnable quantity; each requested SKU and quantity is
    ///    allocated over them (one SKU may be split across several fulfillments). A SKU that
    ///    was not fulfilled, or more than is returnable, is refused with a 422 before
    ///    anything is created;
    /// 3. `returnCreate` creates the return (Shopify status `OPEN`: already approved), each
    ///    line with reason `OTHER` and the agent's reason as the note (255 characters at
    ///    most). Its `userErrors` are a 422 with their messages.
    ///
    /// The result's `id` is the return's name ("#1001-R1"), its `status` `approved`
    /// (`REQUESTED` → `requested`, `DECLINED` → `rejected`, `CANCELED` → `cancelled`,
    /// `CLOSED` → `closed`), with no refund yet.
    pub(super) async fn open_return(&self, r: &NewReturn) -> Result<Return, SourceError> {
        let unprocessable = |reason: String| SourceError::Status { code: 422, reason };
        if r.items.is_empty() {
            return Err(unprocessable("a return needs at least one item".into()));
        }
        if let Some(i) = r.items.iter().find(|i| i.quantity == 0) {
            return Err(unprocessable(format!(
                "quantity of {} must be at least 1",
                i.sku
            )));
        }
        let order_id = self.resolve_order(&r.order_id).await?;
        let order_gid = format!("gid://shopify/Order/{order_id}");
        let data: ReturnableData = parse(
            self.graphql(RETURNABLE_QUERY, json!({ "orderId": order_gid }))
                .await?,
            "returnable fulfillments",
        )?;
        let Some(order) = data.order else {
            return Err(SourceError::Status {
                code: 404,
                reason: format!("no order {} in the shop", r.order_id.trim()),
            });
        };
        let mut lines: Vec<(String, String, String, u32)> = data
            .returnable_fulfillments
            .map(|c| c.nodes)
            .unwrap_or_default()
            .into_iter()
            .flat_map(|f| {
                f.returnable_fulfillment_line_items
                    .map(|c| c.nodes)
                    .unwrap_or_default()
            })
            .filter_map(|l| {
                let fli = l.fulfillment_line_item?;
                let item = fli.line_item.unwrap_or_default();
                Some((
                    fli.id?,
                    item.sku?,
                    item.name.unwrap_or_default(),
                    l.quantity,
                ))
            })
            .collect();
        let note: String = r.reason.trim().chars().take(255).collect();
        let mut inputs = Vec::new();
        let mut items = Vec::new();
        for want in &r.items {
            let available: u32 = lines.iter().filter(|l| l.1 == want.sku).map(|l| l.3).sum();
            if available < want.quantity {
                return Err(unprocessable(format!(
                    "{} of {} requested but {available} can be returned (only fulfilled items not yet returned)",
                    want.quantity, want.sku
                )));
            }
            let mut need = want.quantity;
            let mut name = None;
            for (fli, sku, item_name, left) in lines.iter_mut() {
                if need == 0 {
                    break;
                }
                if *sku != want.sku || *left == 0 {
                    continue;
                }
                let take = need.min(*left);
                *left -= take;
                need -= take;
                name.get_or_insert_with(|| item_name.clone());
                inputs.push(json!({
                    "fulfillmentLineItemId": fli,
                    "quantity": take,
                    "returnReason": "OTHER",
                    "returnReasonNote": note,
                }));
            }
            items.push(ReturnItem {
                sku: want.sku.clone(),
                name: name.filter(|n| !n.is_empty()),
                quantity: want.quantity,
            });
        }
        let created: ReturnCreateData = parse(
            self.graphql(
                RETURN_CREATE_MUTATION,
                json!({ "returnInput": { "orderId": order_gid, "returnLineItems": inputs } }),
            )
            .await?,
            "returnCreate",
        )?;
        let payload = created
            .return_create
            .ok_or_else(|| SourceError::Malformed("returnCreate answered nothing".into()))?;
        if !payload.user_errors.is_empty() {
            let reason = payload
                .user_errors
                .iter()
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(unprocessable(reason));
        }
        let created = payload.r#return.ok_or_else(|| {
            SourceError::Malformed("returnCreate answered neither a return nor errors".into())
        })?;
        let id = non_empty(created.name)
            .or_else(|| created.id.as_deref().and_then(gid_tail))
            .ok_or_else(|| SourceError::Malformed("the created return has no id".into()))?;
        Ok(Return {
            id,
            order_id: order_key(order.name.as_deref(), &order_id),
            customer_id: order
                .customer
                .and_then(|c| c.id)
                .as_deref()
                .and_then(gid_tail),
            status: match created.status.as_deref().unwrap_or("OPEN") {
                "OPEN" => "approved".into(),
                "REQUESTED" => "requested".into(),
                "DECLINED" => "rejected".into(),
                "CANCELED" => "cancelled".into(),
                other => other.to_ascii_lowercase(),
            },
            reason: non_empty(Some(r.reason.clone())),
            items,
            refund: None,
            created_at: None,
        })
    }
}

const RETURNABLE_QUERY: &str = "query KefuReturnable($orderId: ID!) {
  order(id: $orderId) { id name customer { id } }
  returnableFulfillments(orderId: $orderId, first: 50) {
    nodes {
      returnableFulfillmentLineItems(first: 100) {
        nodes { quantity fulfillmentLineItem { id lineItem { sku name } } }
      }
    }
  }
}";

const RETURN_CREATE_MUTATION: &str = "mutation KefuReturnCreate($returnInput: ReturnInput!) {
  returnCreate(returnInput: $returnInput) {
    return { id name status }
    userErrors { field message }
  }
}";

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ReturnableData {
    order: Option<GqlOrder>,
    returnable_fulfillments: Option<Nodes<GqlReturnable>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Nodes<T> {
    nodes: Vec<T>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GqlOrder {
    name: Option<String>,
    customer: Option<GqlId>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GqlId {
    id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct GqlReturnable {
    returnable_fulfillment_line_items: Option<Nodes<GqlReturnableLine>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct GqlReturnableLine {
    quantity: u32,
    fulfillment_line_item: Option<GqlFulfillmentLine>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct GqlFulfillmentLine {
    id: Option<String>,
    line_item: Option<GqlLineItem>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GqlLineItem {
    sku: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ReturnCreateData {
    return_create: Option<ReturnCreatePayload>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ReturnCreatePayload {
    r#return: Option<GqlReturn>,
    user_errors: Vec<GqlUserError>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GqlReturn {
    id: Option<String>,
    name: Option<String>,
    status: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GqlUserError {
    message: String,
}
