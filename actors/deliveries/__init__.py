"""Delivery records of notifications: the clients' ACKs, stored per device, and listing them."""

from .actor_messages import FlushAcks, ListDeliveries, RecordAck
from .recorder import DeliveryRecorder
from .repository import Ack, DeliveryRepository
from .wire import parse_ack

__all__ = ["Ack", "DeliveryRecorder", "DeliveryRepository", "FlushAcks", "ListDeliveries", "RecordAck", "parse_ack"]
