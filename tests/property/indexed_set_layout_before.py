# ruff: noqa
# mypy: ignore-errors
# The shared contract library's indexed sets as the layout before the buckets kept them
# (an emptied slot keeps its "NAME#x:<k>" for good): the state an upgraded chain starts from.

# -- indexed sets: a set others add to, at a bounded cost per change, paged without skips -------
# An indexed set NAME keeps each member in a slot that never changes while it is a member:
# "NAME#i:<k>" (the member in slot k), "NAME#k:<m>" (the slot of member m), "NAME#n" (the
# highest slot used; a member added takes the next one) and "NAME#c" (how many members, when
# any was removed; else "NAME#n" counts them). A removed member leaves its slot empty for good
# (a member added again takes a new slot), and the live slots are linked in slot order:
# "NAME#x:<k>" is the slot after k ("k + 1" when there is no key), "NAME#v:<k>" the one before
# ("k - 1"), "NAME#h" the first ("1") and "NAME#t" the last ("NAME#n"); an emptied slot keeps
# the slot after it as it was when it was emptied. So adding or removing a member writes at
# most seven keys however many the set holds (no party's additions make another party's later
# calls dearer), a walk over the members reads only live slots, and a page starting at any
# slot a page before returned neither skips nor repeats a member present for the whole walk.
# A list kept under NAME itself (by a deployment before the indexed sets) comes first (its
# entries are slots 1..len); a member removed from it is replaced by None, so it keeps its length.
def _set_next(ctx, name, k):
    return ctx.get(name + "#x:" + str(k), k + 1)


def _set_prev(ctx, name, k):
    return ctx.get(name + "#v:" + str(k), k - 1)


def _set_add(ctx, name, item):
    k = ctx.get(name + "#n", 0) + 1
    last = ctx.get(name + "#t", k - 1)  # the last live slot (0: none)
    ctx.put(name + "#n", k)
    ctx.put(name + "#i:" + str(k), item)
    ctx.put(name + "#k:" + item, k)
    c = ctx.get(name + "#c")
    if c is not None:
        ctx.put(name + "#c", c + 1)
    if last != k - 1:  # the slots between were emptied: link the new one past them
        ctx.delete(name + "#t")
        ctx.put(name + "#v:" + str(k), last)
        if last == 0:
            ctx.put(name + "#h", k)
        else:
            ctx.put(name + "#x:" + str(last), k)


def _set_remove(ctx, name, item):
    k = ctx.get(name + "#k:" + item)
    if k is None:  # listed before the indexed sets, if at all: that list keeps its length
        listed = ctx.get(name)
        if listed is not None and item in listed:
            ctx.put(name, [None if x == item else x for x in listed])
        return
    n = ctx.get(name + "#n")
    before = _set_prev(ctx, name, k)
    after = _set_next(ctx, name, k)
    if before == 0:
        ctx.put(name + "#h", after)
    else:
        ctx.put(name + "#x:" + str(before), after)
    if after > n:
        ctx.put(name + "#t", before)
    else:
        ctx.put(name + "#v:" + str(after), before)
    ctx.put(name + "#x:" + str(k), after)  # a page resuming at the emptied slot goes on here
    ctx.delete(name + "#v:" + str(k))
    ctx.delete(name + "#i:" + str(k))
    ctx.delete(name + "#k:" + item)
    ctx.put(name + "#c", ctx.get(name + "#c", n) - 1)


def _set_listed(ctx, name):
    """The list a deployment before the indexed sets kept under NAME (None: removed ones)."""
    return ctx.get(name, [])


def _set_count(ctx, name):
    listed = len([x for x in _set_listed(ctx, name) if x is not None])
    return listed + ctx.get(name + "#c", ctx.get(name + "#n", 0))


def _set_all(ctx, name):
    """Every member of an indexed set, in slot order (callers bound `_set_count` first)."""
    out = [x for x in _set_listed(ctx, name) if x is not None]
    n = ctx.get(name + "#n", 0)
    k = ctx.get(name + "#h", 1)
    while k <= n:
        out.append(ctx.get(name + "#i:" + str(k)))
        k = _set_next(ctx, name, k)
    return out


def _set_page(ctx, name, start, limit):
    """The members in slots `start`.. of an indexed set, reading at most `limit` slots:
    ([[slot, member], ...], the slot to start the next page at, or None after the last).
    A page holds at most `limit` members, and fewer only when it passed slots emptied since
    a page before named them; a member present from the first page to the last is in
    exactly one page."""
    listed = _set_listed(ctx, name)
    before = len(listed)
    out = []
    s = start
    while s <= before and len(out) < limit and s < start + limit:
        if listed[s - 1] is not None:
            out.append([s, listed[s - 1]])
        s += 1
    if s <= before:
        return out, s
    read = s - start
    n = ctx.get(name + "#n", 0)
    k = max(s - before, ctx.get(name + "#h", 1))  # the slots before the first are all empty
    while k <= n and read < limit:
        item = ctx.get(name + "#i:" + str(k))
        if item is not None:
            out.append([before + k, item])
        k = _set_next(ctx, name, k)
        read += 1
    return out, (before + k if k <= n else None)
