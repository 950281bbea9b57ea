"""Who is looking at a room (presence, typing) and who is handling it (claims), across the cluster."""

from .claim_store import Claim, ClaimStore, MemoryClaims, Taken
from .claims_actor import ClaimHeld, ClaimsActor, claim_json
from .presence_actor import PresenceActor
from .presence_share import RedisPresenceShare
from .redis_claims import RedisClaims

__all__ = [
    "Claim", "ClaimHeld", "ClaimStore", "ClaimsActor", "MemoryClaims", "PresenceActor", "RedisClaims",
    "RedisPresenceShare", "Taken", "claim_json",
]
