//! The REST calls behind the supervisor's floor, reports and search. The server checks the
//! caller's role on each; a refusal comes back as [`ClientError::Forbidden`].

use serde::Deserialize;

use super::{ClientError, Server, send, send_json};
use crate::model::{
    Floor, Presence, ReportFilter, ReportSummary, ReportTable, SearchPage, SearchQuery,
};

/// A message as the REST API returns it (the fields the desk reads).
#[derive(Debug, Clone, Deserialize)]
pub struct RemoteMessage {
    pub id: String,
    pub conversation_id: String,
    pub seq: u64,
    pub client_msg_id: String,
    pub sender_name: String,
    /// `{"type": "private_note", "text": …}` and the like.
    pub body: serde_json::Value,
    pub created_at: i64,
}

impl Server {
    /// The floor as it is now.
    pub async fn floor(&self) -> Result<Floor, ClientError> {
        self.get("/floor").await
    }

    /// Gives a conversation to an agent or a group's queue, with a note for whoever takes it.
    pub async fn reassign(
        &self,
        conversation_id: &str,
        agent_id: Option<&str>,
        group: Option<&str>,
        note: Option<&str>,
    ) -> Result<(), ClientError> {
        let mut body = serde_json::Map::new();
        if let Some(a) = agent_id {
            body.insert("agent_id".into(), a.into());
        }
        if let Some(g) = group {
            body.insert("group".into(), g.into());
        }
        if let Some(n) = note {
            body.insert("note".into(), n.into());
        }
        let path = format!("/conversations/{conversation_id}/reassign");
        let req = self.request(reqwest::Method::POST, &path).json(&body);
        send(req).await.map(drop)
    }

    /// A private note to the conversation's agent; the shopper never sees it. The same
    /// `client_msg_id` again answers the message stored the first time.
    pub async fn whisper(
        &self,
        conversation_id: &str,
        text: &str,
        client_msg_id: &str,
    ) -> Result<RemoteMessage, ClientError> {
        self.post(
            &format!("/conversations/{conversation_id}/whisper"),
            &serde_json::json!({ "text": text, "client_msg_id": client_msg_id }),
        )
        .await
    }

    /// Assigns the conversation to the caller.
    pub async fn take_over(&self, conversation_id: &str) -> Result<(), ClientError> {
        self.post_empty(&format!("/conversations/{conversation_id}/take-over"))
            .await
    }

    /// Closes a conversation (its agent's or, for a supervisor, anyone's).
    pub async fn close(&self, conversation_id: &str) -> Result<(), ClientError> {
        self.post_empty(&format!("/conversations/{conversation_id}/close"))
            .await
    }

    /// Sets another agent's status (e.g. away after they left their desk).
    pub async fn set_agent_status(
        &self,
        agent_id: &str,
        status: Presence,
    ) -> Result<(), ClientError> {
        let req = self
            .request(reqwest::Method::POST, &format!("/agents/{agent_id}/status"))
            .json(&serde_json::json!({ "status": status.as_str() }));
        send(req).await.map(drop)
    }

    pub async fn report_summary(
        &self,
        filter: &ReportFilter,
    ) -> Result<ReportSummary, ClientError> {
        let req = self
            .request(reqwest::Method::GET, "/reports/summary")
            .query(&filter.query());
        send_json(req).await
    }

    /// One table of a report as CSV (UTF-8, a header row).
    pub async fn report_csv(
        &self,
        table: ReportTable,
        filter: &ReportFilter,
    ) -> Result<Vec<u8>, ClientError> {
        let path = format!("/reports/{}.csv", table.as_str());
        let req = self
            .request(reqwest::Method::GET, &path)
            .query(&filter.query());
        let bytes = send(req)
            .await?
            .bytes()
            .await
            .map_err(|e| ClientError::Unreachable(e.without_url().to_string()))?;
        Ok(bytes.to_vec())
    }

    pub async fn search(&self, query: &SearchQuery) -> Result<SearchPage, ClientError> {
        let req = self
            .request(reqwest::Method::GET, "/search")
            .query(&query.query());
        send_json(req).await
    }

    /// A POST without a body whose answer has none either (204).
    async fn post_empty(&self, path: &str) -> Result<(), ClientError> {
        send(self.request(reqwest::Method::POST, path))
            .await
            .map(drop)
    }
}
