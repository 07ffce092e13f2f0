//! Shopify's answers decoded without a request, through the same readers the lookups use
//! (`client`'s JSON and error shapes, the envelopes of `shapes`, the mappings of `customers`,
//! `orders` and `refunds`): how the back-office fuzzer (`fuzz/fuzz_targets/backoffice.rs`)
//! reaches them.

use reqwest::StatusCode;

use super::{
    ShopifyConnector,
    client::{error_reason, parse},
    customers::map_customer,
    orders::map_order,
    refunds::map_refunds,
    shapes::{CustomerEnvelope, CustomersEnvelope, OrdersEnvelope, ShopOrder},
};
use crate::integrations::{SourceError, model::*, rest::parse_json};

impl ShopifyConnector {
    /// A `customers/{id}.json` answer: one customer.
    pub fn decode_customer_answer(&self, body: &[u8]) -> Result<Customer, SourceError> {
        let env: CustomerEnvelope = parse(parse_json(body)?, "customer")?;
        map_customer(env.customer, self.shop())
    }

    /// A `customers/search.json` answer: the customers found.
    pub fn decode_customers_answer(&self, body: &[u8]) -> Result<Vec<Customer>, SourceError> {
        let env: CustomersEnvelope = parse(parse_json(body)?, "customer search")?;
        env.customers
            .into_iter()
            .map(|c| map_customer(c, self.shop()))
            .collect()
    }

    /// An `orders.json?customer_id=…` answer: that customer's orders.
    pub fn decode_orders_answer(
        &self,
        body: &[u8],
        customer_id: &str,
    ) -> Result<Vec<Order>, SourceError> {
        orders(body)?
            .into_iter()
            .map(|o| map_order(o, Some(customer_id)))
            .collect()
    }

    /// An `orders.json?…&fields=…refunds` answer: that customer's refunds as returns.
    pub fn decode_refunds_answer(
        &self,
        body: &[u8],
        customer_id: &str,
    ) -> Result<Vec<Return>, SourceError> {
        let mut returns = Vec::new();
        for o in &orders(body)? {
            returns.extend(map_refunds(o, customer_id)?);
        }
        Ok(returns)
    }

    /// A non-2xx answer: the `Status` error carrying Shopify's message.
    pub fn decode_error_answer(body: &[u8], status: StatusCode) -> SourceError {
        SourceError::Status {
            code: status.as_u16(),
            reason: error_reason(body, status),
        }
    }
}

fn orders(body: &[u8]) -> Result<Vec<ShopOrder>, SourceError> {
    Ok(parse::<OrdersEnvelope>(parse_json(body)?, "orders")?.orders)
}
