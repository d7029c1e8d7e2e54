# ruff: noqa: F821  (a sandboxed contract: `view` and `ContractError` are provided by the sandbox)
# mypy: ignore-errors
# The photo_sharing contract's views: `source()` puts this file after contract.py and the
# shared contract library, whose names are in scope here (the view makers of the table:
# ADR 0029).

# -- views: records as they are stored ---------------------------------------------------------
get = view(_record_view("photo:"))
by_sha256 = view(_record_via_view("sha:", "photo:"))
by_thumb = view(_record_via_view("thumb:", "photo:"))
licence = view(_record_view("lic:"))
licences = view(_listed_view("lic:", "plic:"))
held_licences = view(_listed_view("lic:", "hlic:"))
licence_history = view(_record_log_view("lic:", "transfers", "lich:"))
report = view(_record_view("rep:"))


# -- views ------------------------------------------------------------------------------------
@view
def similar(ctx, phash):
    _hex(ctx, phash, 16, "phash (the 64-bit perceptual hash)")
    return [{"photo": pid, "distance": d} for d, pid in _near(ctx, phash)[0]]


@view
def usage(ctx, address):
    _str_arg(ctx, address, "address")
    used = ctx.get("used:" + address, {"bytes": 0, "photos": 0})
    return {**used, "quota": QUOTA_BYTES}


@view
def params(ctx):
    return {
        "threshold": THRESHOLD,
        "quota_bytes": QUOTA_BYTES,
        "min_charge": MIN_CHARGE,
        "max_image_bytes": MAX_IMAGE_BYTES,
        "max_thumb_bytes": MAX_THUMB_BYTES,
        "max_bucket": MAX_BUCKET,
        "max_bucket_org": MAX_BUCKET_ORG,
        "max_matches": MAX_MATCHES,
        "segments": len(_segments()),
    }


@view
def count(ctx):
    return ctx.get("seq:photo", 0)


def _report_count(ctx, photo_id):
    _str_arg(ctx, photo_id, "photo_id")
    return _log_count(ctx, "prep:" + photo_id, "nprep:" + photo_id)


def _report_page(ctx, photo_id, start, limit):
    _str_arg(ctx, photo_id, "photo_id")
    ids = _log_items(
        ctx, "prep:" + photo_id, "nprep:" + photo_id, "prep:" + photo_id + ":", start, limit
    )
    return _listed(ctx, "rep:", ids)


@view
def reports(ctx, photo_id):
    """The first MAX_REPORTS_SHOWN infringement reports naming a photo, oldest first
    (`report_count`, `reports_page`: all)."""
    return _report_page(ctx, photo_id, 1, MAX_REPORTS_SHOWN)


@view
def report_count(ctx, photo_id):
    return _report_count(ctx, photo_id)


@view
def reports_page(ctx, photo_id, start, limit):
    """Reports `start`.. (1-based, at most `limit` <= MAX_REPORTS_SHOWN) naming a photo,
    oldest first."""
    _check_page(ctx, start, limit, MAX_REPORTS_SHOWN)
    return _report_page(ctx, photo_id, start, limit)


@view
def flags(ctx, photo_id):
    """The first MAX_LIST near-duplicate flags of a photo, oldest first (`flags_page`: all)."""
    _str_arg(ctx, photo_id, "photo_id")
    n = ctx.get("nflags:" + photo_id, 0)
    return _numbered(ctx, "flag:" + photo_id + ":", 1, min(n, MAX_LIST))


@view
def flag_count(ctx, photo_id):
    _str_arg(ctx, photo_id, "photo_id")
    return ctx.get("nflags:" + photo_id, 0)


@view
def flags_page(ctx, photo_id, start, limit):
    """Flags `start`.. (1-based, at most `limit` <= 200) of a photo, oldest first."""
    _check_page(ctx, start, limit)
    _str_arg(ctx, photo_id, "photo_id")
    return _page(ctx, "flag:" + photo_id + ":", ctx.get("nflags:" + photo_id, 0), start, limit)
