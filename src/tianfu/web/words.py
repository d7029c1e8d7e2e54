"""The chain's own words the console shows, as catalogue messages.

Records carry enumerated words (a status, a proposal's kind, a trace event's type, an
allocation's level, a work's type) and the contract records field names. Each known word
is a msgid of the catalogue, so a Chinese page shows 有效 where the record says `active`;
a word the table does not know (a new status, a deployed contract's own word) is shown
as the chain wrote it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tianfu.web.i18n import N_
from tianfu.web.params import CONTRACT_PARAM_NAMES, PARAM_NAMES

WORDS = frozenset(
    {
        # statuses of organisations, proposals, batches, receivables, works, licences, disputes
        N_("active"),
        N_("pending"),
        N_("approved"),
        N_("rejected"),
        N_("activated"),
        N_("expired"),
        N_("failed"),
        N_("removed"),
        N_("split"),
        N_("merged"),
        N_("applied"),
        N_("disbursed"),
        N_("paid"),
        N_("open"),
        N_("resolved"),
        N_("surrendered"),
        N_("registered"),
        # how a receivable's pledge closed, and whom its repayment went to
        N_("repaid_to_bank"),
        N_("closed_by_repayment"),
        N_("holder"),
        # statuses of a manufacturing order
        N_("placed"),
        N_("declined"),
        N_("cancelled"),
        N_("in_production"),
        N_("delivered"),
        N_("accepted"),
        # kinds of a health record
        N_("lab"),
        N_("imaging"),
        N_("diagnosis"),
        N_("discharge"),
        # statuses of a prescription, kinds of a photograph's licence
        N_("issued"),
        N_("dispensed"),
        N_("reimbursed"),
        *(N_("all-rights-reserved"), N_("cc-by"), N_("cc-by-sa"), N_("cc-by-nc"), N_("cc0")),
        N_("custom"),
        # results of a court's verification of an evidence deposit
        N_("verified"),
        # governance proposal kinds
        N_("contract"),
        N_("add_org"),
        N_("remove_org"),
        N_("add_validator"),
        N_("remove_validator"),
        N_("set_power"),
        N_("set_params"),
        N_("grant_role"),
        N_("revoke_role"),
        N_("set_supervisory_roles"),
        N_("unbar_validator"),
        # kinds of enrolled identity
        N_("admin"),
        N_("member"),
        N_("node"),
        # levels of a fund's allocation tree, and the refused operations
        N_("province"),
        N_("city"),
        N_("county"),
        N_("township"),
        N_("village"),
        N_("allocate"),
        N_("disburse"),
        # traceability event types
        N_("planting"),
        N_("raising"),
        N_("input"),
        N_("harvest"),
        N_("processing"),
        N_("inspection"),
        N_("storage"),
        N_("transport"),
        N_("retail"),
        N_("custody"),
        N_("created"),
        N_("split_from"),
        N_("merged_from"),
        N_("recall"),
        # what a trace step's data must hold: an inspection's result, an input's kind
        N_("pass"),
        N_("fail"),
        N_("fertiliser"),
        N_("pesticide"),
        N_("feed"),
        N_("veterinary_drug"),
        # types of registered works, kinds of dispute, events of a work's history
        N_("literary"),
        N_("music"),
        N_("film"),
        N_("software"),
        N_("art"),
        N_("photo"),
        N_("design"),
        N_("patent"),
        N_("other"),
        N_("ownership"),
        N_("infringement"),
        N_("licence"),
        N_("licence_granted"),
        N_("licence_surrendered"),
        N_("dispute_opened"),
        N_("dispute_resolved"),
        N_("dispute_withdrawn"),
        N_("withdrawn"),
        N_("evidence_linked"),
        N_("transferred"),
        # city governance: case statuses, history actions, categories, priorities, sources
        N_("filed"),
        N_("dispatched"),
        N_("handled"),
        N_("closed"),
        N_("reopened"),
        N_("Filed"),
        N_("Dispatched"),
        N_("Transferred"),
        N_("Handled"),
        N_("Closed"),
        N_("Reopened"),
        N_("Overdue"),
        N_("road"),
        N_("water"),
        N_("sanitation"),
        N_("noise"),
        N_("lighting"),
        N_("greenery"),
        N_("traffic"),
        N_("normal"),
        N_("urgent"),
        N_("citizen"),
        N_("sensor"),
        # the applications' roles (an id: shown with the role as written on hover)
        N_("producer"),
        N_("processor"),
        N_("logistics"),
        N_("retailer"),
        N_("inspector"),
        N_("notary"),
        N_("court"),
        N_("arbitrator"),
        N_("creator"),
        N_("depositor"),
        N_("regulator"),
        N_("supervisor"),
        N_("dispatcher"),
        N_("service_centre"),
        N_("city_admin"),
        N_("fund_authority"),
        N_("fund_officer"),
        N_("core_enterprise"),
        N_("bank"),
        N_("buyer"),
        N_("supplier"),
        N_("clinician"),
        N_("doctor"),
        N_("pharmacy"),
        N_("insurer"),
        # a node's health when nothing is wrong; the demo fund's purpose (an id: hover)
        N_("ok"),
        N_("housing-renovation"),
    }
)

# The fields of a contract's governance record (`get_contract`), by key.
CONTRACT_FIELDS = {
    "name": N_("Name"),
    "version": N_("Version"),
    "source_hash": N_("Source hash"),
    "activated_height": N_("Activated at height"),
    "proposal": N_("Proposal"),
}


# The field names a contract writes into the records and events the pages list as data
# (a trace step's, a proposal's full record): shown in the reader's language, with the
# field's own name as the hover text. A name the table does not know (a field a member
# chose, such as a trace event's details) is shown as written.
FIELD_NAMES = {
    # traceability steps: custody, split, recall (and the demo's retail step)
    "from": N_("from"),
    "to": N_("to"),
    "from_org": N_("from organisation"),
    "to_org": N_("to organisation"),
    "parent": N_("parent batch"),
    "into": N_("into"),
    "parents": N_("parent batches"),
    "origin": N_("origin"),
    "quantity": N_("quantity"),
    # a manufacturing order's bill of materials
    "part": N_("part"),
    "qty": N_("quantity"),
    "unit_price_fen": N_("unit price"),
    "root": N_("recalled batch"),
    "reason": N_("reason"),
    "store": N_("store"),
    "input": N_("input"),
    "product": N_("product"),
    "result": N_("result"),
    "report_hash": N_("report hash"),
    "standard": N_("standard"),
    # the demo's trace steps (tianfu up --demo)
    "variety": N_("variety"),
    "area_mu": N_("area (mu)"),
    "dose_kg": N_("dose (kg)"),
    "date": N_("date"),
    "pickers": N_("pickers"),
    "step": N_("step"),
    "line": N_("production line"),
    "price_fen": N_("price"),
    "amount": N_("amount"),
    "amount_fen": N_("amount"),
    # a governance proposal's record
    "approvals": N_("approvals"),
    "args": N_("arguments"),
    "rejections": N_("rejections"),
    "expires": N_("expires at height"),
    "height": N_("height"),
    "id": N_("id"),
    "kind": N_("kind"),
    "name": N_("name"),
    "proposer": N_("proposer"),
    "proposer_org": N_("proposer's organisation"),
    "source_hash": N_("source hash"),
    "status": N_("status"),
    # a city governance case's history
    "category": N_("category"),
    "priority": N_("priority"),
    "due_ms": N_("due"),
    "evidence_hash": N_("evidence hash"),
    "late": N_("late"),
    "note": N_("note"),
    # the data of the applications' and system contracts' events
    "account": N_("account"),
    "address": N_("address"),
    "amounts": N_("amounts"),
    "author": N_("author"),
    "bank": N_("bank"),
    "by": N_("by"),
    "case": N_("case"),
    "code": N_("code"),
    "content_hash": N_("content hash"),
    "copy": N_("copy"),
    "copy_author": N_("copy's author"),
    "deposit": N_("deposit"),
    "dept": N_("department"),
    "display_name": N_("display name"),
    "distance": N_("distance"),
    "done": N_("done"),
    "earlier": N_("earlier"),
    "earlier_author": N_("earlier author"),
    "end_ms": N_("ends"),
    "exclusive": N_("exclusive"),
    "file_hash": N_("file hash"),
    "flagged": N_("flagged"),
    "fund": N_("fund"),
    "hash": N_("hash"),
    "holder": N_("holder"),
    "issuer": N_("issuer"),
    "level": N_("level"),
    "licensor": N_("licensor"),
    "manager": N_("manager"),
    "maturity_ms": N_("maturity"),
    "n": N_("number"),
    "notary_org": N_("notary's organisation"),
    "order": N_("order"),
    "org": N_("organisation"),
    "original": N_("original"),
    "original_author": N_("original's author"),
    "parts": N_("parts"),
    "patient": N_("patient"),
    "phash": N_("perceptual hash"),
    "photo": N_("photograph"),
    "purpose": N_("purpose"),
    "purposes": N_("purposes"),
    "rate_bp": N_("rate (basis points)"),
    "ref": N_("reference"),
    "role": N_("role"),
    "scope": N_("scope"),
    "sender": N_("sender"),
    "seq": N_("sequence number"),
    "sha256": N_("SHA-256 hash"),
    "sla_ms": N_("time limit"),
    "source": N_("source"),
    "start_ms": N_("starts"),
    "supplier": N_("supplier"),
    "supplier_org": N_("supplier's organisation"),
    "total": N_("total"),
    "type": N_("type"),
    "version": N_("version"),
    "work": N_("work"),
}


# The events the applications' and system contracts emit, by name: shown in the reader's
# language on the block and transaction pages, the event's own name on hover. An event the
# table does not know (a deployed contract's own) is shown as written.
EVENT_NAMES = {
    "CaseClosed": N_("case closed"),
    "CaseDispatched": N_("case dispatched"),
    "CaseFiled": N_("case filed"),
    "CaseHandled": N_("case handled"),
    "CaseReopened": N_("case reopened"),
    "CaseTransferred": N_("case transferred"),
    "DepartmentRegistered": N_("department registered"),
    "EvidenceAttested": N_("evidence attested"),
    "EvidenceDeposited": N_("evidence deposited"),
    "EvidenceVerified": N_("evidence verified"),
    "AccountRegistered": N_("account registered"),
    "Allocated": N_("funds allocated"),
    "AttemptRefused": N_("attempt refused"),
    "BeneficiaryRegistered": N_("beneficiary registered"),
    "Disbursed": N_("disbursed"),
    "Enrolled": N_("enrolled"),
    "FundCreated": N_("fund created"),
    "ManagerReplaced": N_("account manager replaced"),
    "ContractActivated": N_("contract activated"),
    "ContractProposed": N_("contract proposed"),
    "ProposalActivated": N_("proposal activated"),
    "ProposalApproved": N_("proposal approved"),
    "ProposalMade": N_("proposal made"),
    "RoleGranted": N_("role granted"),
    "ConsentGiven": N_("consent given"),
    "PatientRegistered": N_("patient registered"),
    "PrescriptionDismissed": N_("prescription dismissed"),
    "PrescriptionDispensed": N_("prescription dispensed"),
    "PrescriptionIssued": N_("prescription issued"),
    "PrescriptionPresented": N_("prescription presented"),
    "PrescriptionReimbursed": N_("prescription reimbursed"),
    "PrescriptionSharedForClaim": N_("prescription shared for a claim"),
    "RecordAccessed": N_("record accessed"),
    "RecordAdded": N_("record added"),
    "RecordShared": N_("record shared"),
    "EvidenceLinked": N_("evidence linked"),
    "LicenceGranted": N_("licence granted"),
    "WorkRegistered": N_("work registered"),
    "WorkTransferred": N_("work transferred"),
    "Inspected": N_("inspected"),
    "Milestone": N_("milestone"),
    "OrderPlaced": N_("order placed"),
    "OrderStatus": N_("order status"),
    "Settled": N_("settled"),
    "TreeAlert": N_("order tree alert"),
    "InfringementReported": N_("infringement reported"),
    "LicenceAccepted": N_("licence accepted"),
    "NearDuplicateFlagged": N_("near duplicate flagged"),
    "PhotoRegistered": N_("photo registered"),
    "DataKeyRegistered": N_("data key registered"),
    "Accepted": N_("accepted"),
    "Issued": N_("issued"),
    "PledgeApplied": N_("pledge applied for"),
    "PledgeApproved": N_("pledge approved"),
    "Split": N_("split"),
    "Transferred": N_("transferred"),
    "BatchCreated": N_("batch created"),
    "BatchRecalled": N_("batch recalled"),
    "BatchSplit": N_("batch split"),
    "BatchTransferred": N_("batch transferred"),
    "BatchesMerged": N_("batches merged"),
    "EventRecorded": N_("event recorded"),
    "ProductRegistered": N_("product registered"),
}

# The methods of the applications' and system contracts a transaction calls, by name: shown
# in the reader's language, the method's own name on hover; an unknown one as written.
METHOD_NAMES = {
    "check": N_("check"),
    "dispatch": N_("dispatch"),
    "file_case": N_("file a case"),
    "handle": N_("handle"),
    "register_department": N_("register a department"),
    "transfer": N_("transfer"),
    "attest": N_("attest"),
    "deposit": N_("deposit"),
    "record_verification": N_("record a verification"),
    "allocate": N_("allocate"),
    "attempt_disburse": N_("attempt a disbursement"),
    "create_fund": N_("create a fund"),
    "disburse": N_("disburse"),
    "enrol": N_("enrol"),
    "register_account": N_("register an account"),
    "register_beneficiary": N_("register a beneficiary"),
    "replace_manager": N_("hand an account to a new manager"),
    "approve": N_("approve"),
    "reject": N_("reject"),
    "get_identity": N_("get an identity"),
    "grant_role": N_("grant a role"),
    "propose_contract": N_("propose a contract"),
    "propose_grant_role": N_("propose granting a role"),
    "access": N_("access"),
    "add_record": N_("add a record"),
    "consent": N_("consent"),
    "dismiss": N_("dismiss a prescription"),
    "dispense": N_("dispense"),
    "prescribe": N_("prescribe"),
    "present": N_("present"),
    "register_patient": N_("register a patient"),
    "reimburse": N_("reimburse"),
    "share": N_("share"),
    "share_claim": N_("share for a claim"),
    "grant_licence": N_("grant a licence"),
    "link_evidence": N_("link evidence"),
    "register_work": N_("register a work"),
    "transfer_work": N_("transfer a work"),
    "accept_delivery": N_("accept a delivery"),
    "accept_order": N_("accept an order"),
    "deliver": N_("deliver"),
    "place_order": N_("place an order"),
    "record_inspection": N_("record an inspection"),
    "reject_delivery": N_("reject a delivery"),
    "report_milestone": N_("report a milestone"),
    "settle": N_("settle"),
    "subcontract": N_("subcontract"),
    "accept_licence": N_("accept a licence"),
    "register": N_("register"),
    "report_infringement": N_("report an infringement"),
    "set_key": N_("set a data key"),
    "accept": N_("accept"),
    "apply_pledge": N_("apply for a pledge"),
    "approve_pledge": N_("approve a pledge"),
    "issue": N_("issue"),
    "split": N_("split a receivable"),
    "split_transfer": N_("split and transfer"),
    "create_batch": N_("create a batch"),
    "merge_batches": N_("merge batches"),
    "recall": N_("recall"),
    "record_event": N_("record an event"),
    "register_product": N_("register a product"),
    "split_batch": N_("split a batch"),
    "transfer_batch": N_("transfer a batch"),
}

# The fields in milliseconds that hold a length of time, not a date (a department's service
# level, how late a case is): shown as a duration.
DURATION_FIELDS = frozenset({"sla_ms", "overdue_ms", "idle_ms"})


# The fields of a record whose value the contract holds to a known word (a trace step's
# inspection result, input kind and event type, a city case's category, priority and source,
# a fund's purpose and allocation level, a status, a kind, a granted role): shown in the
# reader's language, the word as written on hover.
WORD_FIELDS = frozenset(
    {
        *("result", "input", "category", "priority", "source", "purpose"),
        *("type", "level", "status", "kind", "role", "work_type"),
    }
)


def field_name(gettext: Callable[[str], str]) -> Callable[..., Any]:
    """A function showing a record's field name (or a method's parameter name) in
    `gettext`'s language when it is one of `FIELD_NAMES` (or `PARAM_NAMES`), unchanged
    otherwise; given the contract that wrote it, that contract's own label first
    (`CONTRACT_PARAM_NAMES`)."""

    def field(key: Any, contract: Any = None) -> Any:
        if not isinstance(key, str):
            return key
        own = CONTRACT_PARAM_NAMES.get(contract, {}) if isinstance(contract, str) else {}
        label = own.get(key) or FIELD_NAMES.get(key, PARAM_NAMES.get(key))
        return key if label is None else gettext(label)

    return field


def name_label(table: dict[str, str], gettext: Callable[[str], str]) -> Callable[[Any], Any]:
    """A function showing a name the chain wrote (an event's, a method's) in `gettext`'s
    language when `table` knows it, unchanged otherwise."""

    def label(name: Any) -> Any:
        text = table.get(name) if isinstance(name, str) else None
        return name if text is None else gettext(text)

    return label


def chain_word(gettext: Callable[[str], str]) -> Callable[[Any], Any]:
    """A function showing a value from the chain in `gettext`'s language when it is one of
    the known words, unchanged otherwise."""

    def word(value: Any) -> Any:
        return gettext(value) if isinstance(value, str) and value in WORDS else value

    return word


# The contract whose refusals carry the codes below: a `code` elsewhere (a batch code, a
# deposit's details) is shown as written, even when it is spelled like one of them.
REFUSING_CONTRACT = "fund_supervision"

# Why the fund supervision contract refused an allocation or a disbursement, by the code it
# records with each refusal (its own explanation, in English with the ids, is the hover text).
REFUSAL_REASONS = {
    "already_paid": N_("the beneficiary was already paid (or every planned instalment is)"),
    "not_planned": N_("the amount is not the planned instalment"),
    "fund_not_open": N_("the fund was not open at that time"),
    "unknown_fund": N_("there is no such fund"),
    "unregistered_account": N_("the account is not registered"),
    "unauthorized": N_("only the manager of the money may move it"),
    "invalid": N_("the request was malformed (amount or document hash)"),
    "unregistered_recipient": N_("the recipient is not registered there"),
    "wrong_purpose": N_("the payment is not for a purpose the fund or the beneficiary allows"),
    "over_allocation": N_("the amount is more than the balance"),
}


# A refused attempt of the fund supervision contract, by its kind (the operation refused):
# a sentence of its own in each language; a kind the table does not know is shown as written.
REFUSED_ATTEMPTS = {
    "allocate": N_("Allocation of %(amount)s refused: %(reason)s"),
    "disburse": N_("Disbursement of %(amount)s refused: %(reason)s"),
}
REFUSED_OTHER = N_("Refused attempt (%(kind)s), %(amount)s: %(reason)s")


# What a node's health names, by the reason code its status gives each problem
# (`tianfu.node.health.REASONS`; the node's English text is the hover text).
HEALTH_REASONS = {
    "consensus_stopped": N_("consensus stopped on an error"),
    "not_signing": N_("this validator signs nothing: its store or signer file cannot take a block"),
    "signing_held": N_(
        "this validator does not sign for now: after a start it first learns from the network "
        "what its key signed, or its signer is ahead of its store; it signs again by itself"
    ),
    "cannot_build": N_("proposal blocks cannot be built: the store is busy or failing"),
    "cannot_execute": N_("proposed blocks cannot be executed: the store is busy or failing"),
    "store_damaged": N_("the store is damaged and must be repaired"),
    "block_sync": N_("block sync cannot store the blocks it fetched"),
    "probe_failed": N_("a health check itself failed"),
    "other": N_("another problem"),
}


# What a failed transaction's receipt says when the sandbox stopped the call, by the message
# every node gives it (`tianfu.execution.errors`; the receipt's text is the hover text): a
# contract's own refusal is its own text, shown as written.
RECEIPT_ERRORS = {
    "ZeroDivisionError: division by zero": N_("the contract divided by zero"),
    "IndexError: index out of range": N_("the contract read past the end of a list"),
    "TypeError: unsupported operand or argument types": N_(
        "the contract was given a value of the wrong type"
    ),
    "ValueError: invalid value": N_("the contract was given an invalid value"),
    "OverflowError: integer too large": N_("a number grew too large"),
}
OUT_OF_GAS = "out of gas:"


def receipt_error(gettext: Callable[[str], str]) -> Callable[[Any], Any]:
    """A function showing a failed receipt's error in `gettext`'s language when the sandbox
    wrote it (running out of gas, an interpreter error), unchanged otherwise."""

    def error(text: Any) -> Any:
        if not isinstance(text, str):
            return text
        if text.startswith(OUT_OF_GAS):
            return gettext(N_("the transaction ran out of gas (it used more than its limit)"))
        known = RECEIPT_ERRORS.get(text)
        return text if known is None else gettext(known)

    return error
