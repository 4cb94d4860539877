//! The async [`Client`] and the semantics of every call.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde_json::value::RawValue;
use tracing::field::Empty;
use tracing::Instrument;

use crate::actions::{Action, ContextFor};
use crate::config::{ClientBuilder, Config, Wire};
use crate::error::{Decision, Denial, DenialStage, Error, Held};
use crate::options::EvaluateOptions;
use crate::permit::Permit;
use crate::reply;
use crate::results::{
    ApiKeySelf, AuthorizationResult, EvaluateResult, GateResult, Received, RevokeResult,
    VerifyResult,
};
use crate::transport::{bad_reply, parse_strict, Endpoint, Transport};
use crate::wire;

/// The longest agent or action the contract accepts (characters):
/// [`wire::limits::MAX_NAME_CHARS`].
pub const MAX_NAME_CHARS: usize = wire::limits::MAX_NAME_CHARS;

/// The longest revocation reason the contract accepts (characters):
/// [`wire::limits::MAX_REASON_CHARS`].
pub const MAX_REVOKE_REASON_CHARS: usize = wire::limits::MAX_REASON_CHARS;

/// An async client of the AtlaSent API.
///
/// Cheap to clone (an `Arc` inside): clones share one configuration and one
/// connection pool. Build one per process and pass it around, or use the
/// global client behind [`atlasent::protect`](crate::protect()).
///
/// ```no_run
/// # async fn run() -> Result<(), atlasent::Error> {
/// let client = atlasent::Client::builder()
///     .api_key("ask_live_...")
///     .timeout(std::time::Duration::from_secs(3))
///     .build()?;
/// let permit = client
///     .protect("deploy-bot", "deploy_to_production", &serde_json::json!({ "commit": "abc123" }))
///     .await?;
/// println!("{permit}");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    transport: Arc<Transport>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.transport.config)
            .finish()
    }
}

impl ClientBuilder {
    /// Validate the settings and build the client.
    ///
    /// Fails with [`Error::Config`] when the API key is missing, the base URL
    /// is invalid or plain `http://` to a non-loopback host, or a timeout is
    /// zero.
    pub fn build(self) -> Result<Client, Error> {
        let config = self.into_config()?;
        Ok(Client {
            transport: Arc::new(Transport::new(config)?),
        })
    }
}

impl Client {
    /// A builder with the defaults of the Python SDK.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from `ATLASENT_API_KEY`, `ATLASENT_BASE_URL`,
    /// `ATLASENT_WIRE` and `ATLASENT_ALLOW_INSECURE_HTTP`
    /// ([`ClientBuilder::from_lookup`]).
    pub fn from_env() -> Result<Client, Error> {
        ClientBuilder::from_lookup(|name| std::env::var(name).ok()).build()
    }

    pub(crate) fn transport(&self) -> &Transport {
        &self.transport
    }

    /// The client's configuration (the key is redacted in its `Debug`).
    pub fn config(&self) -> &Config {
        &self.transport.config
    }

    /// Authorize an action end to end: evaluate it, then verify the permit
    /// with the same agent, action and context. Returns the [`Permit`] only
    /// when both cleared.
    ///
    /// A policy deny is [`Error::Denied`] (stage `Policy`); a hold or
    /// escalate is [`Error::Held`] (a human must decide; nothing is
    /// verified); a permit that fails verification is [`Error::Denied`]
    /// (stage `Verification`, reason naming the outcome); any failure to get
    /// an answer is [`Error::Request`]. There is no way to get a "denied"
    /// value that could be mistaken for permission.
    ///
    /// `context` is anything that serializes to a JSON object; `()` means
    /// `{}`. It is serialized once. On the legacy wire it is sent identically
    /// to both endpoints; on the current wire the verification carries
    /// [`execution_hash`](crate::wire::execution_hash) of
    /// `{action_type, actor_id, context}` instead, and `context["environment"]`
    /// when that is a string.
    pub async fn protect<C>(&self, agent: &str, action: &str, context: &C) -> Result<Permit, Error>
    where
        C: Serialize + ?Sized,
    {
        let span = tracing::info_span!("atlasent.protect", agent, action, decision = Empty);
        async {
            let GateResult {
                evaluation,
                verification,
            } = self.gate_inner(agent, action, context).await?;
            tracing::Span::current().record("decision", "allow");
            let permit = Permit::new(
                evaluation.permit_id,
                verification.permit_hash,
                evaluation.audit_hash,
                evaluation.reason,
                verification.timestamp,
                agent.to_owned(),
                action.to_owned(),
            );
            // Both replies were checked to be readable; when both state an
            // expiry, the earlier one is the one to trust.
            let expiry = [evaluation.expires_at, verification.expires_at]
                .into_iter()
                .flatten()
                .filter_map(|text| crate::time::parse_rfc3339(&text).map(|at| (at, text)))
                .min_by_key(|(at, _)| *at);
            Ok(match expiry {
                Some((at, text)) => permit.with_expiry(text, at),
                None => permit,
            })
        }
        .instrument(span)
        .await
    }

    /// [`protect`](Self::protect) for an action declared as a type: the
    /// permit is a [`Permit<A>`](crate::Permit), which only code that takes
    /// a permit for `A` (or an untyped `Permit`) accepts.
    ///
    /// The action sent is `A::NAME`. `context` is what `A` accepts: anything
    /// that serializes to a JSON object, or, for an action declared with
    /// `context = T`, a `T` (or `&T`) only. Every outcome other than a
    /// verified allow is an `Err`, exactly as for `protect`.
    ///
    /// ```no_run
    /// #[derive(serde::Serialize)]
    /// struct WireContext { amount_usd: u64, memo: String }
    ///
    /// #[atlasent::action("wire_transfer", context = WireContext)]
    /// struct WireTransfer;
    ///
    /// # async fn run(client: atlasent::Client) -> Result<(), atlasent::Error> {
    /// let context = WireContext { amount_usd: 250, memo: "invoice 7".into() };
    /// let permit: atlasent::Permit<WireTransfer> =
    ///     client.protect_as::<WireTransfer>("finance-agent", &context).await?;
    /// # Ok(()) }
    /// ```
    pub async fn protect_as<A: Action>(
        &self,
        agent: &str,
        context: &(impl ContextFor<A> + ?Sized),
    ) -> Result<Permit<A>, Error> {
        // The permit names the action it was verified for: A::NAME.
        Ok(self.protect(agent, A::NAME, context).await?.retype())
    }

    /// Ask the policy engine for a decision, returned as data: a deny, hold
    /// or escalate is `Ok` with `permitted == false`. Allowed is not yet
    /// authorized: the permit must still be verified (use
    /// [`protect`](Self::protect)).
    pub async fn evaluate<C>(
        &self,
        agent: &str,
        action: &str,
        context: &C,
    ) -> Result<EvaluateResult, Error>
    where
        C: Serialize + ?Sized,
    {
        self.evaluate_with(agent, action, context, &EvaluateOptions::default())
            .await
    }

    /// [`evaluate`](Self::evaluate) with the current wire's optional members
    /// (`resource_id`, `amount`, `environment`, `require_approval`, …). On
    /// [`Wire::Legacy`] a call with any option set is refused
    /// ([`Error::InvalidArgument`]) before anything is sent.
    pub async fn evaluate_with<C>(
        &self,
        agent: &str,
        action: &str,
        context: &C,
        options: &EvaluateOptions,
    ) -> Result<EvaluateResult, Error>
    where
        C: Serialize + ?Sized,
    {
        check_names(agent, action)?;
        options.check()?;
        if let (Wire::Legacy, Some(name)) = (self.wire(), options.first_set()) {
            return Err(Error::invalid(format!(
                "evaluate option `{name}` needs the current wire; the 1.4.1 shape \
                 (Wire::Legacy) cannot carry it"
            )));
        }
        let context = to_context(context)?;
        self.evaluate_raw(agent, action, &context, options).await
    }

    /// Verify a permit, returned as data: `verified == false` is `Ok`.
    /// `agent`, `action` and `context` re-state what the permit was issued
    /// for; the server checks them (empty strings and `()` skip the check).
    ///
    /// On the current wire the context is not sent: a non-empty one is sent
    /// as the [`execution_hash`](crate::wire::execution_hash) of
    /// `{action_type: action, actor_id: agent, context}` (when `agent` and
    /// `action` are given) and its `environment`, when that is a string.
    pub async fn verify<C>(
        &self,
        permit_id: &str,
        agent: &str,
        action: &str,
        context: &C,
    ) -> Result<VerifyResult, Error>
    where
        C: Serialize + ?Sized,
    {
        if permit_id.is_empty() {
            return Err(Error::invalid("permit_id must not be empty"));
        }
        let context = to_context(context)?;
        let restated = Restated::new(self.wire(), agent, action, &context, false)?;
        self.verify_raw(permit_id, &restated, None).await
    }

    /// Evaluate, then verify: both results on success. Fails like
    /// [`protect`](Self::protect) on a deny, a hold or escalate, **or** a
    /// failed verification (Python 1.4.1's `gate` returns a failed
    /// verification as success; this does not).
    pub async fn gate<C>(&self, agent: &str, action: &str, context: &C) -> Result<GateResult, Error>
    where
        C: Serialize + ?Sized,
    {
        let span = tracing::info_span!("atlasent.gate", agent, action, decision = Empty);
        self.gate_inner(agent, action, context)
            .instrument(span)
            .await
    }

    /// Evaluate and verify, with the decision returned as data:
    /// `permitted` is true only when the policy allowed **and** the permit
    /// verified. A policy deny, a hold or escalate (nothing is verified) or a
    /// failed verification is `Ok` with `permitted == false`; transport,
    /// auth, rate-limit and server failures are still `Err`.
    pub async fn authorize<C>(
        &self,
        agent: &str,
        action: &str,
        context: &C,
    ) -> Result<AuthorizationResult, Error>
    where
        C: Serialize + ?Sized,
    {
        let span = tracing::info_span!("atlasent.authorize", agent, action, decision = Empty);
        async {
            let context = checked_call(agent, action, context)?;
            let restated = Restated::new(self.wire(), agent, action, &context, true)?;
            let evaluation = self
                .evaluate_raw(agent, action, &context, &EvaluateOptions::default())
                .await?;
            let verification = match evaluation.decision {
                Decision::Allow => Some(self.verify_issued(&evaluation, &restated).await?),
                _ => None,
            };
            let mut result = AuthorizationResult {
                permitted: false,
                decision: evaluation.decision,
                deny_code: evaluation.deny_code,
                escalation_id: evaluation.escalation_id,
                verified: false,
                agent: agent.to_owned(),
                action: action.to_owned(),
                reason: evaluation.reason,
                permit_id: evaluation.permit_id,
                audit_hash: evaluation.audit_hash,
                permit_hash: String::new(),
                outcome: String::new(),
                timestamp: evaluation.timestamp,
                request_id: evaluation.request_id,
                rate_limit: evaluation.rate_limit,
            };
            if let Some(verification) = verification {
                result.verified = verification.verified;
                result.permitted = verification.verified;
                if !verification.verified {
                    result.reason = verification_reason(&verification.outcome);
                }
                result.permit_hash = verification.permit_hash;
                result.outcome = verification.outcome;
                result.request_id = verification.request_id;
                result.rate_limit = verification.rate_limit.or(result.rate_limit);
            }
            let decision = match result.decision {
                _ if result.permitted => "allow",
                Decision::Hold => "hold",
                Decision::Escalate => "escalate",
                _ => "deny",
            };
            tracing::Span::current().record("decision", decision);
            Ok(result)
        }
        .instrument(span)
        .await
    }

    /// Describe the API key this client uses (`GET /v1-api-key-self`).
    ///
    /// The organization may come as `org_id` (current) or `organization_id`
    /// (1.4.1); a reply with neither, or with both disagreeing, is
    /// `bad_response`.
    pub async fn key_self(&self) -> Result<ApiKeySelf, Error> {
        let span = tracing::info_span!("atlasent.key_self", request_id = Empty);
        async {
            let endpoint = Endpoint::KeySelf;
            let reply = self
                .transport
                .send_with(endpoint, None, &[], |bytes| {
                    let b = parse_strict::<wire::ApiKeySelfResponse>(endpoint, bytes)?;
                    let organization_id = match (&b.org_id, &b.organization_id) {
                        (Some(a), Some(b)) if a != b => {
                            return Err(bad_reply(
                                endpoint,
                                format!(
                                    "`org_id` is {} but `organization_id` is {}: \
                                     the reply contradicts itself",
                                    reply::quoted(a),
                                    reply::quoted(b)
                                ),
                            ))
                        }
                        (Some(id), _) | (None, Some(id)) => id.clone(),
                        (None, None) => {
                            return Err(bad_reply(
                                endpoint,
                                "required field `org_id` is missing \
                                 (and there is no 1.4.1 `organization_id`)",
                            ))
                        }
                    };
                    Ok((b, organization_id))
                })
                .await?;
            let (b, organization_id) = reply.body;
            Ok(ApiKeySelf {
                key_id: b.key_id,
                organization_id,
                environment: b.environment,
                scopes: b.scopes,
                allowed_cidrs: b.allowed_cidrs,
                rate_limit_per_minute: b.rate_limit_per_minute,
                client_ip: b.client_ip,
                expires_at: b.expires_at,
                request_id: reply.request_id,
                rate_limit: reply.rate_limit,
            })
        }
        .instrument(span)
        .await
    }

    /// Revoke a permit so that it can no longer verify
    /// (`POST /v1-revoke-permit`, the same on both wires). `reason` is
    /// stored in the audit log. See also
    /// [`revoke_permit_by_id`](Self::revoke_permit_by_id).
    pub async fn revoke_permit(
        &self,
        permit_id: &str,
        reason: Option<&str>,
    ) -> Result<RevokeResult, Error> {
        if permit_id.is_empty() {
            return Err(Error::invalid("permit_id must not be empty"));
        }
        check_revoke_reason(reason)?;
        let span = tracing::info_span!("atlasent.revoke_permit", permit_id, request_id = Empty);
        async {
            let body = to_body(&wire::RevokeRequest {
                decision_id: permit_id,
                reason,
                api_key: self.transport.config.api_key.expose(),
            })?;
            let reply = self
                .transport
                .send::<wire::RevokeResponse>(Endpoint::Revoke, Some(body), &[])
                .await?;
            Ok(RevokeResult {
                revoked: reply.body.revoked,
                permit_id: reply.body.decision_id,
                revoked_at: reply.body.revoked_at,
                audit_hash: reply.body.audit_hash,
                request_id: reply.request_id,
            })
        }
        .instrument(span)
        .await
    }

    fn wire(&self) -> Wire {
        self.transport.config.wire
    }

    async fn gate_inner<C>(
        &self,
        agent: &str,
        action: &str,
        context: &C,
    ) -> Result<GateResult, Error>
    where
        C: Serialize + ?Sized,
    {
        let context = checked_call(agent, action, context)?;
        let restated = Restated::new(self.wire(), agent, action, &context, true)?;
        let evaluation = self
            .evaluate_raw(agent, action, &context, &EvaluateOptions::default())
            .await?;
        match evaluation.decision {
            Decision::Allow => {}
            decision @ (Decision::Hold | Decision::Escalate) => {
                let name = if decision == Decision::Hold {
                    "hold"
                } else {
                    "escalate"
                };
                tracing::Span::current().record("decision", name);
                return Err(Held {
                    decision,
                    reason: evaluation.reason,
                    deny_code: evaluation.deny_code,
                    escalation_id: evaluation.escalation_id,
                    evaluation_id: evaluation.permit_id,
                    audit_hash: evaluation.audit_hash,
                    request_id: Some(evaluation.request_id),
                }
                .into());
            }
            // Deny, and any decision added later: never a permit.
            _ => {
                tracing::Span::current().record("decision", "deny");
                return Err(Denial {
                    stage: DenialStage::Policy,
                    decision: Decision::Deny,
                    reason: evaluation.reason,
                    evaluation_id: evaluation.permit_id,
                    audit_hash: evaluation.audit_hash,
                    outcome: None,
                    request_id: Some(evaluation.request_id),
                    deny_code: evaluation.deny_code,
                    verify_error_code: None,
                }
                .into());
            }
        }
        let verification = self.verify_issued(&evaluation, &restated).await?;
        if !verification.verified {
            tracing::Span::current().record("decision", "deny");
            return Err(Denial {
                stage: DenialStage::Verification,
                decision: evaluation.decision,
                reason: verification_reason(&verification.outcome),
                evaluation_id: evaluation.permit_id,
                audit_hash: evaluation.audit_hash,
                outcome: Some(verification.outcome),
                request_id: Some(verification.request_id),
                deny_code: None,
                verify_error_code: verification.verify_error_code,
            }
            .into());
        }
        tracing::Span::current().record("decision", "allow");
        Ok(GateResult {
            evaluation,
            verification,
        })
    }

    async fn evaluate_raw(
        &self,
        agent: &str,
        action: &str,
        context: &RawValue,
        options: &EvaluateOptions,
    ) -> Result<EvaluateResult, Error> {
        let reply = async {
            Ok(match self.wire() {
                Wire::Legacy => {
                    let request = wire::EvaluateRequest {
                        action,
                        agent,
                        context,
                        api_key: self.transport.config.api_key.expose(),
                    };
                    let hint = context.get().len();
                    self.exchange(Endpoint::Evaluate, &request, hint, reply::legacy_evaluation)
                        .await?
                }
                Wire::Current => {
                    let request = wire::CurrentEvaluateRequest {
                        resource_id: options.resource_id.as_deref(),
                        amount: options.amount,
                        environment: options.environment.as_deref(),
                        require_approval: options.require_approval,
                        explain: options.explain,
                        evaluation_profile: options.evaluation_profile.as_deref(),
                        ..wire::CurrentEvaluateRequest::new(action, agent, context)
                    };
                    let hint = context.get().len();
                    self.exchange(Endpoint::Evaluate, &request, hint, |b, _| {
                        reply::current_evaluation(b)
                    })
                    .await?
                }
            })
        };
        let span = tracing::info_span!(
            "atlasent.evaluate",
            agent,
            action,
            request_id = Empty,
            decision = Empty
        );
        self.received(span, reply).await
    }

    /// Await `reply` inside `span`, then take the API key out of what the
    /// server sent, attach the reply's request id and rate limit, and record
    /// the result's decision or outcome on the span.
    async fn received<T: Received>(
        &self,
        span: tracing::Span,
        reply: impl std::future::Future<Output = Result<crate::transport::Reply<T>, Error>>,
    ) -> Result<T, Error> {
        async {
            let reply = reply.await?;
            let mut result = reply.body;
            result.redact_key(self.transport.config.api_key.expose());
            let (field, value) = result.recorded();
            tracing::Span::current().record(field, value);
            result.attach(reply.request_id, reply.rate_limit);
            Ok(result)
        }
        .instrument(span)
        .await
    }

    /// POST `request` to `endpoint` and read the reply strictly as `R`,
    /// then through `check` (given the reply's bytes too); a failed check
    /// is `bad_response`.
    async fn exchange<R: wire::ReplyBody, T>(
        &self,
        endpoint: Endpoint,
        request: &impl Serialize,
        size_hint: usize,
        check: impl Fn(R, &[u8]) -> Result<T, String>,
    ) -> Result<crate::transport::Reply<T>, Error> {
        // The members around the context and the names fit in 256 bytes.
        let body = to_body_sized(request, size_hint + 256)?;
        self.transport
            .send_with(endpoint, Some(body), &[], |bytes| {
                let b = parse_strict::<R>(endpoint, bytes)?;
                check(b, bytes).map_err(|why| bad_reply(endpoint, why))
            })
            .await
    }

    /// Verify the permit `evaluation` issued, with its `expires_at`.
    async fn verify_issued(
        &self,
        evaluation: &EvaluateResult,
        restated: &Restated<'_>,
    ) -> Result<VerifyResult, Error> {
        let issued_expiry = evaluation.expires_at.as_deref();
        self.verify_raw(&evaluation.permit_id, restated, issued_expiry)
            .await
    }

    /// Verify `permit_id`. `issued_expiry` is the `expires_at` of the
    /// evaluate reply that issued it, when this call evaluated it: a valid
    /// verification timed after it is a self-contradicting server.
    async fn verify_raw(
        &self,
        permit_id: &str,
        restated: &Restated<'_>,
        issued_expiry: Option<&str>,
    ) -> Result<VerifyResult, Error> {
        let reply = async {
            Ok(match self.wire() {
                Wire::Legacy => {
                    let request = wire::VerifyRequest {
                        decision_id: permit_id,
                        action: restated.action,
                        agent: restated.agent,
                        context: restated.context,
                        api_key: self.transport.config.api_key.expose(),
                    };
                    let hint = restated.context.get().len();
                    self.exchange(Endpoint::Verify, &request, hint, |b, bytes| {
                        reply::legacy_verification(b, permit_id, bytes, issued_expiry)
                    })
                    .await?
                }
                Wire::Current => {
                    let request = wire::CurrentVerifyRequest {
                        permit_token: permit_id,
                        action_type: restated.action,
                        actor_id: restated.agent,
                        environment: restated.environment.as_deref(),
                        execution_hash: restated.execution_hash.as_deref(),
                        require_approval: None,
                    };
                    self.exchange(Endpoint::Verify, &request, 0, |b, _| {
                        reply::current_verification(b, permit_id, issued_expiry)
                    })
                    .await?
                }
            })
        };
        let span = tracing::info_span!(
            "atlasent.verify",
            permit_id,
            request_id = Empty,
            outcome = Empty
        );
        self.received(span, reply).await
    }
}

/// What a verification re-states about the permit: the agent, action and
/// context (legacy wire), or the agent, action, environment and
/// `execution_hash` (current wire).
struct Restated<'a> {
    agent: &'a str,
    action: &'a str,
    context: &'a RawValue,
    environment: Option<String>,
    execution_hash: Option<String>,
}

impl<'a> Restated<'a> {
    /// `evaluated`: the call evaluated exactly this payload itself, so the
    /// hash is always sent; otherwise (a bare `verify`) only when there is a
    /// context and an agent and action to hash with it.
    fn new(
        wire: Wire,
        agent: &'a str,
        action: &'a str,
        context: &'a RawValue,
        evaluated: bool,
    ) -> Result<Self, Error> {
        let mut restated = Self {
            agent,
            action,
            context,
            environment: None,
            execution_hash: None,
        };
        if wire == Wire::Legacy {
            return Ok(restated);
        }
        let text = context.get().as_bytes();
        let unreadable = |e: &dyn fmt::Display| {
            Error::invalid(format!(
                "context is not a JSON object a server can read: {e}"
            ))
        };
        // Read in place (no `Value` copy of the context), refusing a repeated
        // member name; anything refused gets the strict reader's own words.
        let object = wire::BorrowedObject::parse(context).ok_or_else(|| {
            match wire::from_slice_strict::<serde_json::Map<String, serde_json::Value>>(text) {
                Err(e) => unreadable(&e),
                Ok(_) => unreadable(&"not an object"),
            }
        })?;
        restated.environment = object.environment().map(str::to_owned);
        let hashable = evaluated || (!object.is_empty() && !agent.is_empty() && !action.is_empty());
        if hashable {
            restated.execution_hash = Some(object.execution_hash(action, agent));
        }
        Ok(restated)
    }
}

/// The reason of a denial by failed verification, as Python words it.
fn verification_reason(outcome: &str) -> String {
    let outcome = if outcome.is_empty() {
        "unverified"
    } else {
        outcome
    };
    format!("Permit failed verification ({outcome})")
}

/// A revocation reason: at most [`MAX_REVOKE_REASON_CHARS`] characters.
pub(crate) fn check_revoke_reason(reason: Option<&str>) -> Result<(), Error> {
    if let Some(reason) = reason {
        let chars = reason.chars().count();
        if chars > MAX_REVOKE_REASON_CHARS {
            return Err(Error::invalid(format!(
                "reason is {chars} characters long; the limit is {MAX_REVOKE_REASON_CHARS}"
            )));
        }
    }
    Ok(())
}

/// Check the agent and action names, then serialize the context
/// ([`to_context`]).
fn checked_call<C: Serialize + ?Sized>(
    agent: &str,
    action: &str,
    context: &C,
) -> Result<Box<RawValue>, Error> {
    check_names(agent, action)?;
    to_context(context)
}

/// Check the agent's name, then the action's ([`check_name`]).
fn check_names(agent: &str, action: &str) -> Result<(), Error> {
    check_name("agent", agent)?;
    check_name("action", action)
}

/// Agents and actions: 1 to 256 characters, as the contract requires.
fn check_name(what: &str, value: &str) -> Result<(), Error> {
    if value.is_empty() {
        return Err(Error::invalid(format!("{what} must not be empty")));
    }
    let chars = value.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(Error::invalid(format!(
            "{what} is {chars} characters long; the limit is {MAX_NAME_CHARS}"
        )));
    }
    Ok(())
}

/// Serialize a context once, keeping its key order, and require a JSON
/// object; `()`/`None`/null become `{}`.
pub(crate) fn to_context<C: Serialize + ?Sized>(context: &C) -> Result<Box<RawValue>, Error> {
    let raw = serde_json::value::to_raw_value(context)
        .map_err(|e| Error::invalid(format!("context could not be serialized to JSON: {e}")))?;
    let text = raw.get();
    if text.starts_with('{') {
        return Ok(raw);
    }
    if text == "null" {
        return RawValue::from_string("{}".to_owned())
            .map_err(|e| Error::invalid(format!("context: {e}")));
    }
    let kind = match text.as_bytes().first() {
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        _ => "a number",
    };
    Err(Error::invalid(format!(
        "context must serialize to a JSON object (or to null for {{}}), but it is {kind}"
    )))
}

pub(crate) fn to_body<T: Serialize>(request: &T) -> Result<Vec<u8>, Error> {
    to_body_sized(request, 128)
}

/// [`to_body`] into a buffer of `capacity` bytes: sized to fit, the body is
/// written without growing it.
fn to_body_sized<T: Serialize>(request: &T, capacity: usize) -> Result<Vec<u8>, Error> {
    let mut body = Vec::with_capacity(capacity);
    serde_json::to_writer(&mut body, request)
        .map_err(|e| Error::invalid(format!("request could not be serialized: {e}")))?;
    Ok(body)
}
