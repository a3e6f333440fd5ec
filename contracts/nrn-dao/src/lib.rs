//! `nrn-dao`: stake-weighted governance of Unstoppable Models.
//!
//! Anyone proposes by sending exactly the proposal deposit of NRN to the DAO
//! (cw20 `Send` with a [`msg::ReceiveMsg::Propose`] hook; a direct
//! [`msg::ExecuteMsg::Propose`] when the deposit is zero). A proposal carries
//! one [`msg::ProposalAction`]: new hyperparameters for a model lineage, the
//! acceptance or rejection of a dataset delta, a new model lineage, a change
//! of the DAO's or the staking contract's own configuration, of the chain's
//! fee settings or of who may upload code, or a code upload by the DAO.
//!
//! Voting power is the voter's bonded stake in `nrn-staking` at the *start* of
//! the proposal's start block, so stake bonded in or after that block does not
//! count. Voting is open for blocks `start_height .. end_height` (end
//! exclusive); from `end_height` on the outcome is final:
//!
//! 1. fewer votes (abstain included) than `quorum` × total stake ⇒ Rejected;
//! 2. veto ≥ `veto_threshold` × votes cast ⇒ Vetoed;
//! 3. yes > `threshold` × (yes + no + veto) ⇒ Passed;
//! 4. otherwise Rejected.
//!
//! A Passed proposal is executed once by anyone (`Execute`): its chain
//! messages ([`um_bindings::UmMsg`]) or the staking `UpdateConfig` are
//! emitted, or the DAO config is updated, and the deposit goes back to the
//! proposer. The action runs as a sub-message that replies on error: if it
//! fails, the proposal becomes ExecutionFailed (with the error) and the
//! deposit is refunded all the same. Execution must happen within
//! `execution_period_blocks` after voting ends (afterwards the proposal is
//! Expired), and passed proposals run in id order: `Execute` refuses while an
//! older proposal is Passed and not yet executed or expired. A Rejected or
//! Expired proposal is closed by anyone (`Close`) and its deposit refunded; a
//! Vetoed one is closed with its deposit burned.
//!
//! Every setting is bounded ([`bounds`]), at instantiation, when an update is
//! proposed and again when it is executed.
//!
//! The voting rules (quorum, threshold, veto threshold) and the execution
//! window are copied into each proposal when it is created: a later
//! `UpdateDaoConfig` only affects proposals created after it was executed.

pub mod bounds;
pub mod contract;
pub mod error;
pub mod msg;
pub mod state;

pub use crate::error::ContractError;
