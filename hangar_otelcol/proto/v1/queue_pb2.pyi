from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Signal(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIGNAL_UNSPECIFIED: _ClassVar[Signal]
    SIGNAL_TRACES: _ClassVar[Signal]
    SIGNAL_LOGS: _ClassVar[Signal]
    SIGNAL_METRICS: _ClassVar[Signal]
SIGNAL_UNSPECIFIED: Signal
SIGNAL_TRACES: Signal
SIGNAL_LOGS: Signal
SIGNAL_METRICS: Signal

class Sender(_message.Message):
    __slots__ = ("transport", "peer", "metadata", "principal", "authenticated", "received_unix_nano")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class PrincipalEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TRANSPORT_FIELD_NUMBER: _ClassVar[int]
    PEER_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    AUTHENTICATED_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    transport: str
    peer: str
    metadata: _containers.ScalarMap[str, str]
    principal: _containers.ScalarMap[str, str]
    authenticated: bool
    received_unix_nano: int
    def __init__(self, transport: _Optional[str] = ..., peer: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., principal: _Optional[_Mapping[str, str]] = ..., authenticated: _Optional[bool] = ..., received_unix_nano: _Optional[int] = ...) -> None: ...

class QueuedPart(_message.Message):
    __slots__ = ("request", "item_count", "sender")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    ITEM_COUNT_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    request: bytes
    item_count: int
    sender: Sender
    def __init__(self, request: _Optional[bytes] = ..., item_count: _Optional[int] = ..., sender: _Optional[_Union[Sender, _Mapping]] = ...) -> None: ...

class QueuedBatch(_message.Message):
    __slots__ = ("signal", "parts", "enqueued_unix_nano")
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    ENQUEUED_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    signal: Signal
    parts: _containers.RepeatedCompositeFieldContainer[QueuedPart]
    enqueued_unix_nano: int
    def __init__(self, signal: _Optional[_Union[Signal, str]] = ..., parts: _Optional[_Iterable[_Union[QueuedPart, _Mapping]]] = ..., enqueued_unix_nano: _Optional[int] = ...) -> None: ...

class QueuedRecords(_message.Message):
    __slots__ = ("records", "record_ids")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    RECORD_IDS_FIELD_NUMBER: _ClassVar[int]
    records: bytes
    record_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, records: _Optional[bytes] = ..., record_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class HeldSpan(_message.Message):
    __slots__ = ("due_unix_nano", "origin", "trace_id", "tool", "report", "sender", "resource", "record")
    DUE_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    due_unix_nano: int
    origin: str
    trace_id: bytes
    tool: str
    report: bytes
    sender: Sender
    resource: bytes
    record: bytes
    def __init__(self, due_unix_nano: _Optional[int] = ..., origin: _Optional[str] = ..., trace_id: _Optional[bytes] = ..., tool: _Optional[str] = ..., report: _Optional[bytes] = ..., sender: _Optional[_Union[Sender, _Mapping]] = ..., resource: _Optional[bytes] = ..., record: _Optional[bytes] = ...) -> None: ...
