# ruff: noqa: F821  (a sandboxed contract: `view` and `ContractError` are provided by the sandbox)
# mypy: ignore-errors
# The helpers it uses and does not define come from the shared contract library
# (apps/common/contract_library.py), which its deployed source ends with.
"""City governance: cases handled across departments, with deadlines in block time.

A sandboxed contract (see docs/contracts.md and docs/apps/city_governance.md). A case is
filed by a citizen service centre (for a citizen) or by a sensor system, dispatched to a
department, possibly transferred between departments (each transfer with its reason),
handled by the department, checked by the supervising office, and closed or sent back
(reopened). Times are block times in milliseconds.

Deadlines: a department has a service level (`sla_ms`, a quarter of it for urgent cases);
a case is due that long after its dispatch (a transfer does not move the deadline; a
reopening sets a new one). A case not handled by its deadline is overdue: the views flag
it at the current block time, `flag_overdue` records it, and handling it late marks it late.
Its lateness is counted once per deadline ("late" of `stat:`), against the department that
held it when the deadline passed: the one that handles it late, or the one that transferred
it on after the deadline (the case's "late_charged_to"), so no department passes a case it
let lapse on to another to be counted late.

Personal data stays off the ledger: a citizen is recorded only as a salted hash made by the
service centre (or not at all), a case's details only as the SHA-256 of the complaint kept
by the centre, and its summary and location may not hold a number of 7 or more digits (a
phone or ID number). The statistics per department are counts only.

State:
  dept:<id>          a department: name, organisation, service level
  depts              the department ids
  stat:<id>          a department's counters (received, transfers in/out, handled, late,
                     closed, reopened, overdue flags)
  open:<id>          the ids of the cases with that department, not closed: an indexed set
                     (the shared library's `_set_*`), so a case added or removed writes at
                     most nine keys however many are open, and `overdue_in` pages it
                     without skipping a case open for the whole walk
  case:<id>          a case; "log:<id>:<n>" its history; "ci:<n>" / "ncases" the n-th case
  sensor:<org>:<ref> the case the alarm <ref> of organisation <org>'s sensors was filed as (a
                     repeat of an open one is refused); each organisation names its alarms
                     itself, so one organisation's references neither block nor collide with
                     another's ("sensor:<ref>": an alarm filed by a deployment before)

Roles: service_centre and sensor (file cases), dispatcher (dispatch, transfer),
dept:<id> (a department's staff, of the department's organisation: transfer, handle),
supervisor (check, reopen; never staff of the case's department nor of its organisation),
city_admin (register departments).
"""

STATUSES = ("filed", "dispatched", "handled", "closed", "reopened")
WITH_DEPT = ("dispatched", "reopened")  # cases a department is working on (the clock runs)
CATEGORIES = ("road", "water", "sanitation", "noise", "lighting", "greenery", "traffic", "other")
PRIORITIES = ("normal", "urgent")
URGENT_DIVISOR = 4
MAX_TRANSFERS = 10
MAX_DEPTS = 100
MAX_WALK = 1000  # open cases `overdue` and `stats` read in one call, over all departments
MAX_PAGE = 200  # open cases `overdue_in` reads in one call
MAX_HISTORY = 100  # history entries (notes of up to 300 characters) a view returns
MAX_SLA_MS = 365 * 24 * 3600 * 1000
ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."
HEX = "0123456789abcdef"
# What a phone or ID number can be written in: ASCII and full-width digits, Chinese numerals.
DIGITS = "0123456789" + "０１２３４５６７８９" + "〇零一二三四五六七八九"
COUNTERS = ("received", "transferred_in", "transferred_out", "handled", "late", "closed")
COUNTERS2 = ("reopened", "overdue_flagged")


def _id(ctx, value, what):
    ctx.require(
        isinstance(value, str) and len(value) in range(1, 65) and all(c in ID_CHARS for c in value),
        f"{what} must be 1-64 letters, digits, - _ or .",
    )


def _public_text(ctx, value, what, limit):
    """Text that goes on the public ledger: bounded, and no long digit runs (phone, ID)."""
    _nonempty_text(ctx, value, what, limit)
    run = 0
    longest = 0
    for c in value:
        run = run + 1 if c in DIGITS else 0
        longest = max(longest, run)
    ctx.require(
        longest < 7, f"{what} holds a number of 7 or more digits: keep personal data off chain"
    )


def _hash(ctx, value, what, empty=False):
    ok = isinstance(value, str) and len(value) == 64 and all(c in HEX for c in value)
    ctx.require(ok or (empty and value == ""), f"{what} must be a SHA-256 (64 lower-case hex)")


def _case(ctx, case_id):
    return _stored(ctx, "case:", case_id, "case")


def _dept(ctx, dept_id):
    return _stored(ctx, "dept:", dept_id, "department")


def _count(ctx, dept_id, counter):
    stat = ctx.get("stat:" + dept_id)
    stat[counter] = stat[counter] + 1
    ctx.put("stat:" + dept_id, stat)


def _open(ctx, dept_id, case_id, add):
    if add:
        _set_add(ctx, "open:" + dept_id, case_id)
    else:
        _set_remove(ctx, "open:" + dept_id, case_id)


def _open_ids(ctx, dept_id):
    """The ids of the cases open with a department."""
    return _set_all(ctx, "open:" + dept_id)


def _log(ctx, case, action, detail):
    n = case["log"] + 1
    case["log"] = n
    entry = {
        "n": n,
        "action": action,
        "dept": case["dept"],
        "by_org": ctx.sender.org,
        "by": ctx.sender.address,
        "height": ctx.height,
        "time_ms": ctx.time_ms,
    }
    for k, v in detail.items():
        entry[k] = v
    ctx.put("log:" + case["id"] + ":" + str(n), entry)
    ctx.put("case:" + case["id"], case)
    ctx.emit("Case" + action, id=case["id"], dept=case["dept"], status=case["status"])


def _status(ctx, case, allowed, what):
    ctx.require(
        case["status"] in allowed, f"case {case['id']} is {case['status']}: it cannot be {what}"
    )


def _staff(ctx, dept):
    return ctx.has_role("dept:" + dept["id"]) and ctx.sender.org == dept["org"]


def _due(ctx, case, dept):
    sla = dept["sla_ms"] // URGENT_DIVISOR if case["priority"] == "urgent" else dept["sla_ms"]
    return ctx.time_ms + sla


# -- departments --------------------------------------------------------------------------
def register_department(ctx, dept_id, name, org, sla_ms):
    """(city_admin) A department of a member organisation, with its service level (ms)."""
    ctx.require_role("city_admin")
    _id(ctx, dept_id, "a department id")
    ctx.require(not ctx.has("dept:" + dept_id), f"department {dept_id} already exists")
    _public_text(ctx, name, "name", 100)
    member = ctx.read("governance", "org/" + org) if isinstance(org, str) else None
    ctx.require(
        member is not None and member["status"] == "active", f"{org} is not a member organisation"
    )
    ctx.require(
        isinstance(sla_ms, int)
        and not isinstance(sla_ms, bool)
        and sla_ms >= 1000
        and sla_ms <= MAX_SLA_MS,
        "sla_ms is a whole number of milliseconds from 1000 to 365 days",
    )
    depts = ctx.get("depts", [])
    ctx.require(len(depts) < MAX_DEPTS, f"at most {MAX_DEPTS} departments")
    dept = {"id": dept_id, "name": name, "org": org, "sla_ms": sla_ms, "height": ctx.height}
    ctx.put("dept:" + dept_id, dept)
    ctx.put("depts", depts + [dept_id])
    stat = {}
    for k in COUNTERS + COUNTERS2:
        stat[k] = 0
    ctx.put("stat:" + dept_id, stat)
    ctx.emit("DepartmentRegistered", id=dept_id, org=org, sla_ms=sla_ms)
    return dept


# -- cases --------------------------------------------------------------------------------
def file_case(
    ctx, case_id, category, priority, location, summary, details_hash, reporter, sensor_ref
):
    """(service_centre or sensor) File a case. A service centre names the citizen only by
    a salted hash (or ""); a sensor gives its alarm reference instead."""
    by_sensor = ctx.has_role("sensor")
    ctx.require(
        by_sensor or ctx.has_role("service_centre"),
        "only a citizen service centre or a sensor system files cases",
    )
    _id(ctx, case_id, "a case id")
    ctx.require(not ctx.has("case:" + case_id), f"case {case_id} already exists")
    ctx.require(category in CATEGORIES, f"category is one of {', '.join(CATEGORIES)}")
    ctx.require(priority in PRIORITIES, "priority is 'normal' or 'urgent'")
    _public_text(ctx, location, "location", 200)
    _public_text(ctx, summary, "summary", 300)
    _hash(ctx, details_hash, "details_hash", True)
    _hash(ctx, reporter, "a reporter (a salted hash, never a name or number)", True)
    if by_sensor:
        ctx.require(reporter == "", "a sensor reports no citizen")
        _id(ctx, sensor_ref, "a sensor alarm reference")
        key = "sensor:" + ctx.sender.org + ":" + sensor_ref
        earlier = ctx.get(key)
        if earlier is None:  # filed before the references were per organisation
            earlier = ctx.get("sensor:" + sensor_ref)
            if earlier is not None and _case(ctx, earlier)["filed_by_org"] != ctx.sender.org:
                earlier = None
        if earlier is not None:
            ctx.require(
                _case(ctx, earlier)["status"] == "closed",
                f"alarm {sensor_ref} is already open as case {earlier}",
            )
        ctx.put(key, case_id)
    else:
        ctx.require(sensor_ref == "", "a service centre gives no sensor reference")
    n = ctx.get("ncases", 0) + 1
    ctx.put("ncases", n)
    ctx.put("ci:" + str(n), case_id)
    case = {
        "id": case_id,
        "category": category,
        "priority": priority,
        "location": location,
        "summary": summary,
        "details_hash": details_hash,
        "reporter": reporter,
        "source": "sensor" if by_sensor else "citizen",
        "sensor_ref": sensor_ref,
        "filed_by_org": ctx.sender.org,
        "status": "filed",
        "dept": None,
        "due_ms": None,
        "late": False,
        "overdue_flagged": False,
        "transfers": 0,
        "reopens": 0,
        "log": 0,
        "filed_ms": ctx.time_ms,
        "height": ctx.height,
    }
    _log(ctx, case, "Filed", {"category": category, "priority": priority})
    return case


def dispatch(ctx, case_id, dept_id):
    """(dispatcher) Send a filed case to a department; its deadline starts now."""
    ctx.require_role("dispatcher")
    case = _case(ctx, case_id)
    _status(ctx, case, ("filed",), "dispatched")
    dept = _dept(ctx, dept_id)
    case["status"] = "dispatched"
    case["dept"] = dept_id
    case["due_ms"] = _due(ctx, case, dept)
    _count(ctx, dept_id, "received")
    _open(ctx, dept_id, case_id, True)
    _log(ctx, case, "Dispatched", {"due_ms": case["due_ms"]})
    return case


def transfer(ctx, case_id, to_dept, reason):
    """(the case's department, or a dispatcher, while the case was transferred fewer than
    MAX_TRANSFERS times; past that the supervising office: a supervisor outside the case's
    department and its organisation) Hand a case to another department, with the reason;
    the deadline does not move."""
    case = _case(ctx, case_id)
    _status(ctx, case, WITH_DEPT, "transferred")
    here = _dept(ctx, case["dept"])
    office = case["transfers"] >= MAX_TRANSFERS and ctx.has_role("supervisor")
    if office:
        _supervisor(ctx, case)
    else:
        ctx.require(
            _staff(ctx, here) or ctx.has_role("dispatcher"),
            f"only {here['name']} or a dispatcher may transfer case {case_id}",
        )
    there = _dept(ctx, to_dept)
    ctx.require(to_dept != here["id"], f"case {case_id} is with {to_dept} already")
    _public_text(ctx, reason, "reason", 300)
    ctx.require(
        office or case["transfers"] < MAX_TRANSFERS,
        f"case {case_id} was transferred {MAX_TRANSFERS} times: the supervising office decides",
    )
    case["transfers"] = case["transfers"] + 1
    case["dept"] = to_dept
    _count(ctx, here["id"], "transferred_out")
    _count(ctx, there["id"], "transferred_in")
    _open(ctx, here["id"], case_id, False)
    _open(ctx, there["id"], case_id, True)
    detail = {"from_dept": here["id"], "reason": reason}
    if _charge_late(ctx, case, here["id"]):  # it lapsed with the sender: counted against it
        detail["late_charged_to"] = here["id"]
    _log(ctx, case, "Transferred", detail)
    return case


def _charge_late(ctx, case, dept_id):
    """Count the case late against `dept_id` if its deadline has passed and its lateness is
    not counted yet (once per deadline: a reopening sets a new one). True if counted."""
    if ctx.time_ms <= case["due_ms"] or case.get("late_charged_to") is not None:
        return False
    case["late_charged_to"] = dept_id
    _count(ctx, dept_id, "late")
    return True


def handle(ctx, case_id, result, evidence_hash):
    """(the case's department) Report the case handled: what was done, and the SHA-256 of
    the evidence (photos, work order). After the deadline it counts as late."""
    case = _case(ctx, case_id)
    _status(ctx, case, WITH_DEPT, "handled")
    dept = _dept(ctx, case["dept"])
    ctx.require(_staff(ctx, dept), f"only staff of {dept['name']} may handle case {case_id}")
    _public_text(ctx, result, "result", 300)
    _hash(ctx, evidence_hash, "evidence_hash")
    late = ctx.time_ms > case["due_ms"]
    case["status"] = "handled"
    case["late"] = case["late"] or late
    _count(ctx, dept["id"], "handled")
    _charge_late(ctx, case, dept["id"])  # unless a department before it let it lapse
    _log(ctx, case, "Handled", {"result": result, "evidence_hash": evidence_hash, "late": late})
    return case


def _supervisor(ctx, case):
    """A supervisor outside the case's department: neither its staff nor a member of its
    organisation (which grants its own members roles, `supervisor` among them)."""
    ctx.require_role("supervisor")
    ctx.require(
        not ctx.has_role("dept:" + case["dept"]),
        f"staff of {case['dept']} cannot check their own department's case",
    )
    org = _dept(ctx, case["dept"])["org"]
    ctx.require(
        ctx.sender.org != org,
        f"a supervisor of {org} cannot check a case of {case['dept']}, a department of {org}",
    )


def check(ctx, case_id, passed, note):
    """(supervisor, not of the department) Check a handled case: close it, or send it back
    to the department (reopened, with a new deadline)."""
    case = _case(ctx, case_id)
    _status(ctx, case, ("handled",), "checked")
    _supervisor(ctx, case)
    ctx.require(isinstance(passed, bool), "passed is true or false")
    _public_text(ctx, note, "note", 300)
    if passed:
        case["status"] = "closed"
        _count(ctx, case["dept"], "closed")
        _open(ctx, case["dept"], case_id, False)
        _log(ctx, case, "Closed", {"note": note})
        return case
    _reopen(ctx, case)
    _log(ctx, case, "Reopened", {"note": note, "due_ms": case["due_ms"]})
    return case


def _reopen(ctx, case):
    """Back to the department with a new deadline."""
    case["status"] = "reopened"
    case["reopens"] = case["reopens"] + 1
    case["overdue_flagged"] = False
    case["late_charged_to"] = None
    case["due_ms"] = _due(ctx, case, _dept(ctx, case["dept"]))
    _count(ctx, case["dept"], "reopened")


def reopen(ctx, case_id, reason):
    """(supervisor) Reopen a closed case (e.g. the citizen reports the problem is back)."""
    case = _case(ctx, case_id)
    _status(ctx, case, ("closed",), "reopened")
    _supervisor(ctx, case)
    _public_text(ctx, reason, "reason", 300)
    _reopen(ctx, case)
    _open(ctx, case["dept"], case_id, True)
    _log(ctx, case, "Reopened", {"note": reason, "due_ms": case["due_ms"]})
    return case


def flag_overdue(ctx, case_id):
    """(anyone) Record that a case is past its deadline and not handled."""
    case = _case(ctx, case_id)
    _status(ctx, case, WITH_DEPT, "flagged overdue")
    ctx.require(
        ctx.time_ms > case["due_ms"],
        f"case {case_id} is due at {case['due_ms']}, not overdue at {ctx.time_ms}",
    )
    ctx.require(not case["overdue_flagged"], f"case {case_id} is flagged overdue already")
    case["overdue_flagged"] = True
    _count(ctx, case["dept"], "overdue_flagged")
    _log(ctx, case, "Overdue", {"overdue_ms": ctx.time_ms - case["due_ms"]})
    return case


# -- views --------------------------------------------------------------------------------
def _overdue_ms(ctx, case):
    if case["status"] in WITH_DEPT and ctx.time_ms > case["due_ms"]:
        return ctx.time_ms - case["due_ms"]
    return 0


@view
def case(ctx, case_id):
    """A case, with how long it is overdue at the current block time (0: not overdue)."""
    c = _case(ctx, case_id)
    c["overdue_ms"] = _overdue_ms(ctx, c)
    return c


@view
def history(ctx, case_id):
    """A case's history, while it has at most MAX_HISTORY entries; past that it is refused
    (`history_page` reads a page): every check that sends a case back, and every
    reopening, adds to it."""
    n = _case(ctx, case_id)["log"]
    _whole_list(ctx, "case " + case_id, n, "history entries", MAX_HISTORY, "history_page")
    return _numbered(ctx, "log:" + case_id + ":", 1, n)


@view
def history_page(ctx, case_id, start, limit):
    """History entries `start`.. (1-based, at most `limit` <= MAX_HISTORY) of a case:
    {"case", "count", "start", "history": [...], "next"}."""
    n = _case(ctx, case_id)["log"]
    _check_page(ctx, start, limit, MAX_HISTORY)
    head = {"case": case_id}
    return _log_page(ctx, head, "history", "log:" + case_id + ":", n, start, limit)


@view
def departments(ctx):
    return _listed(ctx, "dept:", ctx.get("depts", []))


def _overdue_row(ctx, dept_id, case_id):
    """The overdue entry of an open case, or None when it is not overdue."""
    c = _case(ctx, case_id)
    late_by = _overdue_ms(ctx, c)
    if late_by <= 0:
        return None
    return {
        "id": case_id,
        "dept": dept_id,
        "priority": c["priority"],
        "due_ms": c["due_ms"],
        "overdue_ms": late_by,
    }


@view
def overdue(ctx):
    """Every case past its deadline and not handled, at the current block time, while at
    most MAX_WALK cases are open in all; past that it is refused (use `overdue_in`)."""
    depts = ctx.get("depts", [])
    total = sum([_set_count(ctx, "open:" + d) for d in depts])
    ctx.require(
        total <= MAX_WALK,
        f"{total} cases are open, more than {MAX_WALK}: "
        "read them a page at a time per department with overdue_in",
    )
    out = []
    for d in depts:
        for case_id in _open_ids(ctx, d):
            row = _overdue_row(ctx, d, case_id)
            if row is not None:
                out.append(row)
    return out


@view
def overdue_in(ctx, dept_id, start, limit):
    """The overdue cases among a department's open cases from slot `start` (1 for the first
    page), at most `limit` (<= MAX_PAGE) of them: {"dept", "open", "start", "overdue": [...],
    "next"}; "next" is the `start` of the following page, or None after the last. A case
    open from the first page to the last is read by exactly one page, whatever is closed or
    reopened meanwhile."""
    _dept(ctx, dept_id)
    _check_page(ctx, start, limit, MAX_PAGE)
    name = "open:" + dept_id
    entries, after = _set_page(ctx, name, start, limit)
    out = []
    for _, case_id in entries:
        row = _overdue_row(ctx, dept_id, case_id)
        if row is not None:
            out.append(row)
    return {
        "dept": dept_id,
        "open": _set_count(ctx, name),
        "start": start,
        "overdue": out,
        "next": after,
    }


@view
def stats(ctx):
    """Public statistics per department: counts only, no case content, no personal data.
    "overdue_now" walks a department's open cases while the call has read fewer than
    MAX_WALK of them in all; for a department past that it is None (use `overdue_in`)."""
    out = []
    budget = MAX_WALK
    for d in ctx.get("depts", []):
        dept = ctx.get("dept:" + d)
        row = {"dept": d, "name": dept["name"], "org": dept["org"], "sla_ms": dept["sla_ms"]}
        stat = ctx.get("stat:" + d)
        for k in COUNTERS + COUNTERS2:
            row[k] = stat[k]
        n = _set_count(ctx, "open:" + d)
        row["open"] = n
        row["overdue_now"] = None
        if n <= budget:
            budget -= n
            open_ids = _open_ids(ctx, d)
            row["overdue_now"] = len([c for c in open_ids if _overdue_ms(ctx, _case(ctx, c)) > 0])
        out.append(row)
    return out


@view
def cases(ctx, start, limit):
    """Case ids `start`.. (1-based, at most `limit` <= 200), in filing order."""
    _check_page(ctx, start, limit)
    return _page(ctx, "ci:", ctx.get("ncases", 0), start, limit)
