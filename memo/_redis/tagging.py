"""Tags in Redis: one set per tag lists the keys of its entries; invalidation empties it.

A tag's set is `memo:{namespace}:tag:{tag}`; its members are the Redis keys of entries stored
with the tag. Two rules make `invalidate_tag` exact and cheap at scale:

- **A compute is fenced.** A tagged miss adds its key to each tag's set *before* it takes
  the key's lease (so before it reads its sources). Invalidation deletes each member's entry
  and lease; the write that ends a compute checks its lease, so a compute in flight across
  `invalidate_tag` has its write refused instead of storing what it read before. This is the
  lease fence `f.invalidate()` has always had, reached through the tag.
- **Invalidation is chunked.** One script reads up to `TAG_CHUNK` members (SRANDMEMBER);
  one more deletes their entries and leases and publishes one event naming them all (other
  processes evict their L1 copies); then SREM takes them out of the set, and the next read
  rides in the same pipeline: about `members / TAG_CHUNK + 2` round trips. Members leave the
  set only once deleted, so an invalidation whose reply was lost and that is replayed later
  still finds every member it had not finished.

Cluster: a tag's set and an entry live on different slots (the entry's slot is its digest's
hash tag). Nothing here needs both in one script: the fence is decided on the entry's slot
(its lease), the membership on the tag's. On a cluster the deletes of a chunk go as one
UNLINK of entry and lease per member (pipelined: one request per node); the chunk's event and
its SREM go after them, a second round trip per chunk (an eviction heard before the delete
could let a reader copy the old value back into L1); and a tagged miss registers its tags one
round trip before its claim (a pipeline over several nodes keeps no order between them). On
one server, registration and claim share one pipeline, whose order the server keeps.
"""

from __future__ import annotations

from typing import Any

from memo._redis.commands import Commands
from memo._redis.ops import CLAIM, Batch, Command, Op, Script, ScriptCall
from memo._redis.transport import reply_text, tag_command

__all__ = ["EVICT_MANY", "SAMPLE", "TAG_CHUNK", "UNLINK_MEMBERS", "Tagging"]

TAG_CHUNK = 1000  # members popped and deleted per round trip
EVICT_MANY = "K"  # event kind: the payload lists Redis keys, one a line, removed together

# KEYS: tag set. ARGV: count. {type of the key, up to count distinct members}. Nothing is
# removed here (the caller removes a chunk once its entries are deleted). A key of another
# type (someone else's value at memo's key) is left alone: the caller repairs it.
SAMPLE = Script(
    """
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind ~= 'set' then return {kind} end
local members = redis.call('SRANDMEMBER', KEYS[1], ARGV[1])
table.insert(members, 1, kind)
return members
"""
)
# Members added faster than chunks are deleted belong to computes that started after the
# invalidation: the loop ends anyway (10M members at most).
_MAX_CHUNKS = 10_000

# KEYS: entry, lease, entry, lease, ... (one server: keys of any slot). ARGV: channel, message
# ('' : none). Deletes every entry with its lease (a compute in flight loses its right to
# write) and publishes message; returns the entries that existed.
UNLINK_MEMBERS = Script(
    """
local removed = {}
for i = 1, #KEYS, 2 do
  if redis.call('UNLINK', KEYS[i]) == 1 then removed[#removed + 1] = KEYS[i] end
  redis.call('UNLINK', KEYS[i + 1])
end
if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[1], ARGV[2]) end
return removed
"""
)


class Tagging(Commands):
    """Registering a tagged miss, and deleting a tag's entries, as operations."""

    _client: Any
    _given_async: Any

    @property
    def clustered(self) -> bool:
        """Whether keys of one operation may live on different nodes."""
        if self.endpoint is not None:
            return bool(self.endpoint.kind == "cluster")
        return any(hasattr(c, "get_node_from_key") for c in (self._client, self._given_async))

    # -- the fence: a tagged miss is a member before its compute starts ---------------------

    def _claim_tagged(self, remote: str, token: str, ttl: float, tags: tuple[str, ...]) -> Op:
        """Register remote in each tag's set, then take its lease (`_claim`'s answer)."""
        ttl_ms = int(ttl * 1000)
        registrations = tuple(tag_command(self.tag_key(tag), remote, ttl_ms) for tag in tags)
        claim = CLAIM((self.entry_key(remote),), (token, ttl_ms))
        if self.clustered:
            yield Batch(registrations)
            taken = yield claim
        else:
            taken = (yield Batch((*registrations, claim)))[-1]
        return self._claimed(remote, taken)

    # -- invalidation ----------------------------------------------------------------------

    def _delete_tag(self, tag: str) -> Op:
        """Delete every member of the tag's set, chunk by chunk; the Redis keys removed.

        A chunk leaves the set only after its entries are deleted (SREM after the deletes),
        so an invalidation whose reply was lost (a hang: Redis ran it later) and that is
        replayed finds every member not yet deleted: none is ever dropped unseen."""
        tag_key = self.tag_key(tag)
        sample = SAMPLE((tag_key,), (TAG_CHUNK,))
        kind, members = _popped((yield sample))
        if kind not in ("set", "none"):
            return (yield from self._repair_tag(tag, kind))
        removed: list[str] = []
        for _ in range(_MAX_CHUNKS):
            if not members:
                break
            forget = Command(("SREM", tag_key, *members))
            deletes = self._unlink_members(members)
            if self.clustered:  # the deletes, then (ordered on the tag's node) SREM and sample
                removed += self._removed(members, list((yield Batch(tuple(deletes)))))
                replies = yield Batch((*self._cluster_event(members), forget, sample))
            else:  # one connection: the server keeps the pipeline's order
                replies = yield Batch((*deletes, forget, sample))
                removed += self._removed(members, replies[:-2])
            kind, members = _popped(replies[-1])
        yield Command(("PUBLISH", self.channel, self.message("t", tag)))
        return removed

    def _unlink_members(self, members: list[str]) -> list[Command | ScriptCall]:
        """Deleting members' entries and leases: one script on one server; on a cluster, where
        a chunk's members spread over about as many slots as there are members, one UNLINK
        of entry and lease per member (they share a slot), which the pipeline sends per node."""
        if not self.clustered:
            event = self.message(EVICT_MANY, "\n".join(members))
            keys = tuple(key for member in members for key in (member, self.entry_key(member)))
            return [UNLINK_MEMBERS(keys, (self.channel, event))]
        return [Command(("UNLINK", member, self.entry_key(member))) for member in members]

    def _removed(self, members: list[str], replies: list[Any]) -> list[str]:
        """The members whose entry existed, from `_unlink_members`' replies (on a cluster: or
        whose compute was in flight, its lease the only key removed)."""
        if not self.clustered:
            return [reply_text(key) for key in replies[0] or ()]
        return [member for member, count in zip(members, replies, strict=True) if count]

    def _cluster_event(self, members: list[str]) -> tuple[Command, ...]:
        """A cluster's chunk event (sent after its deletes; one server's script sends it)."""
        event = self.message(EVICT_MANY, "\n".join(members))
        return (Command(("PUBLISH", self.channel, event)),)

    def _repair_tag(self, tag: str, kind: str) -> Op:
        """Someone replaced the tag's set: its members are unknown, so the invalidation takes
        effect by moving every function of the store to a new generation."""
        self._log(
            f"{self.tag_key(tag)} held a {kind}, not memo's set: replaced; the members "
            "are unknown, so every function of this store moved to a new generation"
        )
        yield Command(("DEL", self.tag_key(tag)))
        for name in sorted(self._function_names()):
            # Known here at once: this process's next read must not take an entry of the
            # old generation for current while its own event is still on the way.
            self.generations[name] = yield from self._bump(name)
        yield Command(("PUBLISH", self.channel, self.message("t", tag)))
        return []


def _popped(reply: Any) -> tuple[str, list[str]]:
    """POP's reply as (type of the tag's key, members)."""
    items = [reply_text(item) for item in reply or ()]
    return (items[0] if items else "none"), items[1:]
