//! The karma module's place in the app: its queries. It has no messages,
//! genesis or block stages of its own: the modules that decide work credit
//! it (`super::credit`).

use crate::codes::TxError;
use crate::module::{Module, QueryContext};

pub struct KarmaModule;

impl Module for KarmaModule {
    fn name(&self) -> &'static str {
        "karma"
    }

    fn query(
        &self,
        ctx: &QueryContext<'_>,
        path: &str,
        data: &[u8],
    ) -> Option<Result<Vec<u8>, TxError>> {
        super::query::route(ctx.state, path, data)
    }
}
