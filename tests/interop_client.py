#!/usr/bin/python3
"""interop_client.py - an independent client of borsellinod, written only
from docs/protocol.md and proto/borsellino.proto.

It uses nothing of the project's C code: Debian's python3-protobuf under the
system /usr/bin/python3, with Python code generated at test time by
`protoc --python_out` (Debian protobuf-compiler) into a temporary folder.
It starts its own server on an ephemeral port with its own data folder,
creates accounts and transfers (a linked chain that commits, one that fails,
a pending transfer then posted), reads them back through every read
operation (lookups, history, balance_at, status) checking every field,
provokes each request-level status, pipelines, breaks the framing on side
connections, stops the server with SIGTERM (exit 0), restarts it on the
same data and reads everything back again.

Output is TAP (1..N, ok/not ok N - name) so the project's runner counts
the cases. Cases run in order and later ones use what earlier ones created;
a failed case prints why as '# ' lines and the run goes on.

Environment (tests/meson.build sets them; the fallbacks suit a manual run
from the source tree):
  BORSELLINOD          path of the server binary (default build/server/borsellinod)
  BORSELLINO_PROTO     path of borsellino.proto (default ../proto/ next to this file)
  BORSELLINO_TEST_TMP  where to put the data folder (default: the system temp)
"""
import importlib
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(HERE)

# Limits of this client, named (docs/protocol.md, "Limits").
SERVER_START_TIMEOUT_S = 30
SERVER_STOP_TIMEOUT_S = 30
SOCKET_TIMEOUT_S = 30
# Responses are not bound by the server's --frame-size-max (that limits
# requests); the protocol's hard limit is 64 MiB.
RESPONSE_BODY_SIZE_MAX = 64 << 20
FRAME_SIZE_MAX_DEFAULT = 1 << 20
BATCH_EVENTS_MAX_DEFAULT = 8190
PIPELINED_REQUESTS = 64

U64_MAX = (1 << 64) - 1
U32_MAX = (1 << 32) - 1
LEDGER = 978  # EUR
TIMEOUT_PENDING_S = 3600
# A new server holds the welfare platform's accounts: bank, fees, forfeited
# (docs/welfare.md).
PLATFORM_ACCOUNTS = 3

pb = None  # the generated module, borsellino_pb2


# --------------------------------------------------------------------------
# TAP harness

class Failure(Exception):
    pass


def check(condition, what):
    if not condition:
        raise Failure(what)


def check_eq(actual, expected, what):
    if actual != expected:
        raise Failure("%s: got %r, expected %r" % (what, actual, expected))


def diagnostic(text):
    for line in str(text).splitlines():
        print("# " + line)
    sys.stdout.flush()


def failure_diagnostic(text):
    """A failure's diagnostic: on stdout (TAP) and on stderr, which is what
    meson's console and the CI log show of a failing test."""
    diagnostic(text)
    for line in str(text).splitlines():
        print("# " + line, file=sys.stderr)
    sys.stderr.flush()


def run_cases(cases, state, essential=lambda run: True):
    """Runs `cases` ((name, function) pairs) in order as TAP: "ok N - name",
    or "not ok N - name" with the exception (and the server's log tail) as
    a diagnostic. A case that returns a string is "not ok ... # TODO" (a
    bug outside the test's subject, said out loud; not counted as failed).
    After a failed case for which essential(function) is true, the later
    cases are "not ok ... # skipped" (they build on it). `state` has
    `server` (a Server or None) and `temp_path` (removed when every case
    passed, else kept and named). Returns the exit status: 1 if any case
    failed."""
    print("1..%d" % len(cases))
    sys.stdout.flush()
    failed = 0
    bail = None
    for number, (name, run) in enumerate(cases, 1):
        if bail is not None:
            print("not ok %d - %s # skipped: %s" % (number, name, bail))
            failed += 1
            continue
        try:
            todo = run()
            if todo is None:
                print("ok %d - %s" % (number, name))
            else:
                print("not ok %d - %s # TODO %s" % (number, name, todo))
        except Exception as error:  # a failed case must not stop the others
            failed += 1
            failure_diagnostic("%s: %s" % (name, error) if isinstance(error, Failure)
                               else "%s:\n%s" % (name, traceback.format_exc()))
            server = state.server
            if server is not None and server.process.poll() is not None:
                failure_diagnostic("the server exited with %r" % server.process.returncode)
            if server is not None and server.log_lines:
                failure_diagnostic("server log tail:\n" + server.log_tail(10))
            print("not ok %d - %s" % (number, name))
            if essential(run):
                bail = "'%s' failed" % name
        sys.stdout.flush()
    if state.server is not None:
        state.server.stop_now()
    if state.temp_path is not None:
        if failed == 0:
            shutil.rmtree(state.temp_path, ignore_errors=True)
        else:
            diagnostic("kept " + state.temp_path)
    return 1 if failed else 0


# --------------------------------------------------------------------------
# Protocol: framing and one connection

def u128(value):
    """An int 0..2^128-1 as a U128 message (hi, lo)."""
    message = pb.U128()
    message.hi = value >> 64
    message.lo = value & U64_MAX
    return message


def u128_value(message):
    return (message.hi << 64) | message.lo


def frame(message_bytes):
    """A frame: 4-byte big-endian body length, then the body."""
    return struct.pack(">I", len(message_bytes)) + message_bytes


class Connection:
    """One TCP connection; requests are written as frames, responses read
    in order. request_id is chosen here, increasing per connection."""

    def __init__(self, address):
        host, port = address.rsplit(":", 1)
        self.socket = socket.create_connection((host, int(port)), timeout=SOCKET_TIMEOUT_S)
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.next_request_id = 1

    def close(self):
        self.socket.close()

    def read_exactly(self, size):
        chunks = []
        while size > 0:
            chunk = self.socket.recv(min(size, 1 << 20))
            if not chunk:
                raise Failure("the server closed the connection")
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def read_response(self):
        (body_size,) = struct.unpack(">I", self.read_exactly(4))
        check(body_size <= RESPONSE_BODY_SIZE_MAX, "response body of %d bytes" % body_size)
        response = pb.Response()
        response.ParseFromString(self.read_exactly(body_size))
        return response

    def new_request(self):
        request = pb.Request()
        request.request_id = self.next_request_id
        self.next_request_id += 1
        return request

    def call(self, request):
        """Sends one request and returns its response, checking the echo."""
        self.socket.sendall(frame(request.SerializeToString()))
        response = self.read_response()
        check_eq(response.request_id, request.request_id, "response request_id")
        return response

    def call_ok(self, request, result_field):
        response = self.call(request)
        check_eq(pb.Status.Name(response.status), "STATUS_OK",
                 "status (message: %r)" % response.message)
        check_eq(response.WhichOneof("result"), result_field, "result kind")
        return getattr(response, result_field)

    # One method per operation.

    def create_accounts(self, accounts):
        request = self.new_request()
        request.create_accounts.accounts.extend(accounts)
        return list(self.call_ok(request, "create_accounts").results)

    def create_transfers(self, transfers):
        request = self.new_request()
        request.create_transfers.transfers.extend(transfers)
        return list(self.call_ok(request, "create_transfers").results)

    def lookup_accounts(self, ids):
        request = self.new_request()
        request.lookup_accounts.ids.extend(u128(i) for i in ids)
        return list(self.call_ok(request, "lookup_accounts").accounts)

    def lookup_transfers(self, ids):
        request = self.new_request()
        request.lookup_transfers.ids.extend(u128(i) for i in ids)
        return list(self.call_ok(request, "lookup_transfers").transfers)

    def account_history(self, account_id, flags, limit=100, timestamp_min=0, timestamp_max=0):
        request = self.new_request()
        history = request.account_history
        history.account_id.CopyFrom(u128(account_id))
        history.flags = flags
        history.limit = limit
        history.timestamp_min = timestamp_min
        history.timestamp_max = timestamp_max
        return list(self.call_ok(request, "account_history").entries)

    def balance_at(self, account_id, timestamp):
        request = self.new_request()
        request.balance_at.account_id.CopyFrom(u128(account_id))
        request.balance_at.timestamp = timestamp
        return self.call_ok(request, "balance_at").balance

    def status(self):
        request = self.new_request()
        request.status.SetInParent()  # an empty StatusRequest selects the op
        return self.call_ok(request, "status_result")


# --------------------------------------------------------------------------
# The server process

class Server:
    def __init__(self, binary, data_path):
        self.binary = binary
        self.data_path = data_path
        self.process = None
        self.address = None
        self.log_lines = []
        self.reader = None

    def start(self):
        self.log_lines = []
        self.process = subprocess.Popen(
            [self.binary, "--data", self.data_path, "--listen", "127.0.0.1:0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.address = self.wait_listening()
        # Keep draining stderr so the server never blocks on a full pipe.
        self.reader = threading.Thread(target=self.drain, daemon=True)
        self.reader.start()

    def wait_listening(self):
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        stream = self.process.stderr
        buffered = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([stream], [], [], 0.2)
            if not ready:
                if self.process.poll() is not None:
                    break
                continue
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                break
            buffered += chunk
            while b"\n" in buffered:
                line, buffered = buffered.split(b"\n", 1)
                text = line.decode("utf-8", "replace")
                self.log_lines.append(text)
                address = listening_address(text)
                if address is not None:
                    self.log_lines.extend(buffered.decode("utf-8", "replace").splitlines())
                    return address
        self.stop_now()
        raise Failure("no 'event=listening address=' line from borsellinod; log:\n" +
                      "\n".join(self.log_lines))

    def drain(self):
        stream = self.process.stderr
        while True:
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                return
            self.log_lines.extend(chunk.decode("utf-8", "replace").splitlines())

    def terminate(self):
        """SIGTERM, then the exit code (None if it did not exit in time)."""
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=SERVER_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.stop_now()
            return None
        if self.reader is not None:
            self.reader.join(timeout=5)
        return code

    def stop_now(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def log_tail(self, lines=20):
        return "\n".join(self.log_lines[-lines:])


def listening_address(line):
    fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
    if fields.get("event") == "listening" and "address" in fields:
        return fields["address"]
    return None


# --------------------------------------------------------------------------
# The data this session creates

A = (1 << 127) | 1            # high bit set: exercises hi
B = 2
C = U64_MAX << 64 | (U64_MAX - 1)  # just below the reserved 2^128-1
D = 4
MISSING = 99


def account(account_id, code, flags=0, user_data_128=0, user_data_64=0, user_data_32=0):
    message = pb.Account()
    message.id.CopyFrom(u128(account_id))
    message.user_data_128.CopyFrom(u128(user_data_128))
    message.user_data_64 = user_data_64
    message.user_data_32 = user_data_32
    message.ledger = LEDGER
    message.code = code
    message.flags = flags
    return message


def transfer(transfer_id, debit, credit, amount, flags=0, pending_id=0, timeout=0,
             code=1, ledger=LEDGER, user_data_128=0, user_data_64=0, user_data_32=0):
    message = pb.Transfer()
    message.id.CopyFrom(u128(transfer_id))
    message.debit_account_id.CopyFrom(u128(debit))
    message.credit_account_id.CopyFrom(u128(credit))
    message.amount = amount
    message.pending_id.CopyFrom(u128(pending_id))
    message.user_data_128.CopyFrom(u128(user_data_128))
    message.user_data_64 = user_data_64
    message.user_data_32 = user_data_32
    message.timeout = timeout
    message.ledger = ledger
    message.code = code
    message.flags = flags
    return message


def accounts_to_create():
    return [
        account(A, code=10, flags=pb.ACCOUNT_HISTORY, user_data_128=(0xDEADBEEF << 64) | 0xFEEDFACE,
                user_data_64=U64_MAX, user_data_32=U32_MAX),
        account(B, code=20, user_data_64=1, user_data_32=1),
        account(C, code=30, user_data_128=(1 << 128) - 2),
        account(D, code=65535, flags=pb.ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS),
    ]


T1, T2, T3, T4, T5, T6, T7 = 101, 102, 103, 104, 105, 106, 107


def transfers_first_batch():
    """T1 single; T2+T3 a linked chain that commits; T4+T5 one that fails."""
    return [
        transfer(T1, A, B, 1000, user_data_128=(7 << 64) | 8, user_data_64=9, user_data_32=10),
        transfer(T2, A, C, 200, flags=pb.TRANSFER_LINKED),
        transfer(T3, B, A, 50),
        transfer(T4, A, B, 7, flags=pb.TRANSFER_LINKED),
        transfer(T5, A, B, 0),  # amount 0: fails, and with it T4
    ]


class Session:
    """What the cases share: the server, a connection, results seen."""

    def __init__(self):
        self.temp_path = None
        self.server = None
        self.connection = None
        self.account_timestamps = {}
        self.transfer_timestamps = {}
        self.accounts_seen = None
        self.transfers_seen = None


S = Session()


# --------------------------------------------------------------------------
# Checks of whole records

def check_account(found, expected, timestamp, balances, what):
    check_eq(u128_value(found.id), u128_value(expected.id), what + " id")
    check_eq(u128_value(found.user_data_128), u128_value(expected.user_data_128),
             what + " user_data_128")
    check_eq(found.user_data_64, expected.user_data_64, what + " user_data_64")
    check_eq(found.user_data_32, expected.user_data_32, what + " user_data_32")
    check_eq(found.ledger, expected.ledger, what + " ledger")
    check_eq(found.code, expected.code, what + " code")
    check_eq(found.flags, expected.flags, what + " flags")
    check_eq(found.timestamp, timestamp, what + " timestamp")
    check_eq((found.debits_pending, found.debits_posted, found.credits_pending,
              found.credits_posted), balances,
             what + " balances (debits_pending, debits_posted, credits_pending, credits_posted)")


def check_transfer(found, expected, timestamp, what):
    for field in ("id", "debit_account_id", "credit_account_id", "pending_id", "user_data_128"):
        check_eq(u128_value(getattr(found, field)), u128_value(getattr(expected, field)),
                 "%s %s" % (what, field))
    for field in ("amount", "user_data_64", "user_data_32", "timeout", "ledger", "code", "flags"):
        check_eq(getattr(found, field), getattr(expected, field), "%s %s" % (what, field))
    check_eq(found.timestamp, timestamp, what + " timestamp")


def balance_tuple(balance):
    return (balance.debits_pending, balance.debits_posted, balance.credits_pending,
            balance.credits_posted)


def result_names(results):
    return [pb.Result.Name(r.result) for r in results]


# Balances at the end (debits_pending, debits_posted, credits_pending, credits_posted).
FINAL_BALANCES = {
    A: (0, 1200, 0, 50),
    B: (0, 50, 0, 1000),
    C: (0, 500, 0, 200),
    D: (0, 0, 0, 500),
}


# --------------------------------------------------------------------------
# Cases

def case_generate_python_code():
    proto = os.environ.get("BORSELLINO_PROTO", os.path.join(SOURCE_ROOT, "proto", "borsellino.proto"))
    protoc = shutil.which("protoc") or "/usr/bin/protoc"
    base = os.environ.get("BORSELLINO_TEST_TMP")
    if base:
        os.makedirs(base, exist_ok=True)
    S.temp_path = tempfile.mkdtemp(prefix="interop-", dir=base or None)
    generated = os.path.join(S.temp_path, "generated")
    os.makedirs(generated)
    command = [protoc, "--proto_path=" + os.path.dirname(os.path.abspath(proto)),
               "--python_out=" + generated, os.path.abspath(proto)]
    completed = subprocess.run(command, capture_output=True, text=True)
    check_eq(completed.returncode, 0, "protoc exit code (%s)" % completed.stderr.strip())
    sys.path.insert(0, generated)
    global pb
    pb = importlib.import_module("borsellino_pb2")
    check(hasattr(pb, "Request") and hasattr(pb, "Response"), "generated module has Request/Response")


def case_server_starts():
    binary = os.environ.get("BORSELLINOD", os.path.join(SOURCE_ROOT, "build", "server", "borsellinod"))
    check(os.access(binary, os.X_OK), "borsellinod at %s is executable" % binary)
    S.server = Server(binary, os.path.join(S.temp_path, "data"))
    S.server.start()
    diagnostic("borsellinod listening on " + S.server.address)
    S.connection = Connection(S.server.address)


def case_status_of_a_new_ledger():
    status = S.connection.status()
    check(status.version != "", "version is set")
    check_eq(status.batch_events_max, BATCH_EVENTS_MAX_DEFAULT, "batch_events_max")
    check_eq(status.frame_size_max, FRAME_SIZE_MAX_DEFAULT, "frame_size_max")
    check_eq(status.accounts_count, PLATFORM_ACCOUNTS, "accounts_count")
    check_eq(status.pending_count, 0, "pending_count")
    check_eq(len(status.chain_head), 32, "chain_head length")
    check(status.connections >= 1, "connections >= 1 (got %d)" % status.connections)
    check(status.map_size >= status.map_used, "map_size >= map_used")


def case_create_accounts():
    results = S.connection.create_accounts(accounts_to_create())
    check_eq(result_names(results), ["RESULT_OK"] * 4, "results")
    timestamps = [r.timestamp for r in results]
    check(all(t > 0 for t in timestamps), "timestamps are set: %r" % timestamps)
    check(timestamps == sorted(set(timestamps)), "timestamps strictly increase: %r" % timestamps)
    S.account_timestamps = dict(zip((A, B, C, D), timestamps))


def case_create_accounts_again_is_idempotent():
    """A resubmitted identical batch answers RESULT_EXISTS with the stored
    timestamps; invalid events get their own result, the batch goes on."""
    invalid_code = account(11, code=0)
    invalid_ledger = account(12, code=1)
    invalid_ledger.ledger = 0
    changed = account(B, code=21, user_data_64=1, user_data_32=1)
    batch = accounts_to_create() + [invalid_code, invalid_ledger, changed]
    results = S.connection.create_accounts(batch)
    check_eq(result_names(results),
             ["RESULT_EXISTS"] * 4 + ["RESULT_CODE_MUST_NOT_BE_ZERO",
                                      "RESULT_LEDGER_MUST_NOT_BE_ZERO",
                                      "RESULT_EXISTS_WITH_DIFFERENT_CODE"], "results")
    check_eq([r.timestamp for r in results[:4]],
             [S.account_timestamps[i] for i in (A, B, C, D)], "EXISTS timestamps")
    check_eq([r.timestamp for r in results[4:]], [0, 0, 0], "failure timestamps")


def case_create_transfers_with_linked_chains():
    results = S.connection.create_transfers(transfers_first_batch())
    check_eq(result_names(results),
             ["RESULT_OK", "RESULT_OK", "RESULT_OK",
              "RESULT_LINKED_EVENT_FAILED", "RESULT_AMOUNT_MUST_NOT_BE_ZERO"], "results")
    timestamps = [r.timestamp for r in results]
    check(0 < timestamps[0] < timestamps[1] < timestamps[2], "timestamps increase: %r" % timestamps)
    check(timestamps[0] > max(S.account_timestamps.values()), "after the accounts")
    check_eq(timestamps[3:], [0, 0], "failed events have timestamp 0")
    S.transfer_timestamps.update({T1: timestamps[0], T2: timestamps[1], T3: timestamps[2]})


def case_pending_transfer():
    pending = transfer(T6, C, D, 500, flags=pb.TRANSFER_PENDING, timeout=TIMEOUT_PENDING_S, code=2)
    results = S.connection.create_transfers([pending])
    check_eq(result_names(results), ["RESULT_OK"], "results")
    S.transfer_timestamps[T6] = results[0].timestamp
    accounts = S.connection.lookup_accounts([C, D])
    check_eq(len(accounts), 2, "accounts found")
    check_eq(balance_tuple(accounts[0]), (500, 0, 0, 200), "C balances while pending")
    check_eq(balance_tuple(accounts[1]), (0, 0, 500, 0), "D balances while pending")
    check_eq(S.connection.status().pending_count, 1, "pending_count")


def case_post_pending_transfer():
    # Amount 0 posts the whole pending amount; the accounts, ledger and code
    # are taken from the pending transfer when left zero.
    post = transfer(T7, 0, 0, 0, flags=pb.TRANSFER_POST_PENDING, pending_id=T6, code=0, ledger=0)
    results = S.connection.create_transfers([post])
    check_eq(result_names(results), ["RESULT_OK"], "results")
    S.transfer_timestamps[T7] = results[0].timestamp
    check(results[0].timestamp > S.transfer_timestamps[T6], "post after pending")
    again = S.connection.create_transfers([post])
    check_eq(result_names(again), ["RESULT_EXISTS"], "post resubmitted")
    check_eq(again[0].timestamp, S.transfer_timestamps[T7], "EXISTS timestamp")
    second = transfer(108, 0, 0, 0, flags=pb.TRANSFER_VOID_PENDING, pending_id=T6, code=0, ledger=0)
    check_eq(result_names(S.connection.create_transfers([second])),
             ["RESULT_PENDING_TRANSFER_ALREADY_POSTED"], "void after post")


def case_status_after_writes():
    status = S.connection.status()
    check_eq(status.accounts_count, 4 + PLATFORM_ACCOUNTS, "accounts_count")
    check_eq(status.pending_count, 0, "pending_count")
    check(status.journal_sequence >= 9, "journal_sequence >= 9 (got %d)" % status.journal_sequence)
    check(status.last_timestamp >= S.transfer_timestamps[T7], "last_timestamp >= T7's")
    check(status.checkpoint_sequence <= status.journal_sequence, "checkpoint <= journal")
    check(status.chain_head != bytes(32), "chain_head is not zero after writes")


def expected_transfers():
    """What a lookup must return: stored transfers never keep `linked`; the
    post carries the pending transfer's accounts, ledger, code and amount."""
    first = transfers_first_batch()
    t2 = first[1]
    t2.flags = 0
    pending = transfer(T6, C, D, 500, flags=pb.TRANSFER_PENDING, timeout=TIMEOUT_PENDING_S, code=2)
    post = transfer(T7, C, D, 500, flags=pb.TRANSFER_POST_PENDING, pending_id=T6, code=2)
    return {T1: first[0], T2: t2, T3: first[2], T6: pending, T7: post}


def case_lookup_accounts():
    ids = [D, MISSING, A, C, B]
    found = S.connection.lookup_accounts(ids)
    check_eq([u128_value(a.id) for a in found], [D, A, C, B], "found ids in request order")
    expected = {u128_value(a.id): a for a in accounts_to_create()}
    for account_found in found:
        account_id = u128_value(account_found.id)
        check_account(account_found, expected[account_id], S.account_timestamps[account_id],
                      FINAL_BALANCES[account_id], "account %#x" % account_id)
    S.accounts_seen = [a.SerializeToString(deterministic=True) for a in found]
    check_eq(S.connection.lookup_accounts([MISSING]), [], "missing only")


def case_lookup_transfers():
    ids = [T1, T2, T3, T4, T5, T6, T7]
    found = S.connection.lookup_transfers(ids)
    # T4 and T5 failed: not stored, skipped.
    check_eq([u128_value(t.id) for t in found], [T1, T2, T3, T6, T7], "found ids")
    expected = expected_transfers()
    for transfer_found in found:
        transfer_id = u128_value(transfer_found.id)
        check_transfer(transfer_found, expected[transfer_id], S.transfer_timestamps[transfer_id],
                       "transfer %d" % transfer_id)
    S.transfers_seen = [t.SerializeToString(deterministic=True) for t in found]


def check_history(entries, expected, what):
    """expected: [(transfer id, balances after)] in order."""
    check_eq([(u128_value(e.transfer.id), balance_tuple(e.balance_after)) for e in entries],
             expected, what)
    transfers = expected_transfers()
    for entry in entries:
        transfer_id = u128_value(entry.transfer.id)
        check_eq(pb.EventKind.Name(entry.kind), "EVENT_TRANSFER", what + " kind")
        check_transfer(entry.transfer, transfers[transfer_id], S.transfer_timestamps[transfer_id],
                       "%s transfer %d" % (what, transfer_id))


def case_account_history():
    both = pb.HISTORY_DEBITS | pb.HISTORY_CREDITS
    a_history = [(T1, (0, 1000, 0, 0)), (T2, (0, 1200, 0, 0)), (T3, (0, 1200, 0, 50))]
    check_history(S.connection.account_history(A, both), a_history, "A oldest first")
    check_history(S.connection.account_history(A, both | pb.HISTORY_REVERSED),
                  list(reversed(a_history)), "A newest first")
    check_history(S.connection.account_history(A, pb.HISTORY_DEBITS), a_history[:2], "A debits")
    check_history(S.connection.account_history(A, pb.HISTORY_CREDITS), a_history[2:], "A credits")
    check_history(S.connection.account_history(A, both, limit=2), a_history[:2], "A limit 2")
    # Paging: the next page starts after the last timestamp seen.
    check_history(S.connection.account_history(A, both, limit=2,
                                               timestamp_min=S.transfer_timestamps[T2] + 1),
                  a_history[2:], "A second page")
    check_history(S.connection.account_history(A, both, timestamp_max=S.transfer_timestamps[T1]),
                  a_history[:1], "A up to T1")
    c_history = [(T2, (0, 0, 0, 200)), (T6, (500, 0, 0, 200)), (T7, (0, 500, 0, 200))]
    check_history(S.connection.account_history(C, both), c_history, "C")
    check_history(S.connection.account_history(D, both),
                  [(T6, (0, 0, 500, 0)), (T7, (0, 0, 0, 500))], "D")


def case_balance_at():
    t = S.transfer_timestamps
    cases = [
        (A, t[T1] - 1, (0, 0, 0, 0)),
        (A, t[T1], (0, 1000, 0, 0)),
        (A, t[T2], (0, 1200, 0, 0)),
        (A, t[T3], (0, 1200, 0, 50)),
        (A, U64_MAX, FINAL_BALANCES[A]),
        (C, t[T6], (500, 0, 0, 200)),
        (C, t[T7] - 1, (500, 0, 0, 200)),
        (C, t[T7], FINAL_BALANCES[C]),
        (D, S.account_timestamps[D], (0, 0, 0, 0)),
    ]
    for account_id, timestamp, expected in cases:
        balance = S.connection.balance_at(account_id, timestamp)
        check_eq(balance_tuple(balance), expected, "balance of %#x at %d" % (account_id, timestamp))


def case_resubmitted_transfers_answer_exists():
    results = S.connection.create_transfers(transfers_first_batch())
    check_eq(result_names(results),
             ["RESULT_EXISTS", "RESULT_EXISTS", "RESULT_EXISTS",
              "RESULT_LINKED_EVENT_FAILED", "RESULT_AMOUNT_MUST_NOT_BE_ZERO"], "results")
    check_eq([r.timestamp for r in results[:3]],
             [S.transfer_timestamps[i] for i in (T1, T2, T3)], "EXISTS timestamps")


def expect_status(request, status_name, what):
    response = S.connection.call(request)
    check_eq(pb.Status.Name(response.status), status_name, what)
    check(response.message != "", what + ": message explains (empty)")
    check_eq(response.WhichOneof("result"), None, what + ": no result")


def case_request_level_statuses():
    c = S.connection
    expect_status(c.new_request(), "STATUS_UNKNOWN_OPERATION", "request with no op")
    request = c.new_request()
    request.create_accounts.SetInParent()
    expect_status(request, "STATUS_BATCH_EMPTY", "empty create_accounts")
    request = c.new_request()
    request.create_transfers.SetInParent()
    expect_status(request, "STATUS_BATCH_EMPTY", "empty create_transfers")
    request = c.new_request()
    request.create_accounts.accounts.extend(
        account(1000 + i, code=1) for i in range(BATCH_EVENTS_MAX_DEFAULT + 1))
    expect_status(request, "STATUS_BATCH_TOO_LARGE", "8191 accounts")
    request = c.new_request()
    request.create_transfers.transfers.append(transfer(200, A, B, 1, code=65536))
    expect_status(request, "STATUS_BAD_REQUEST", "transfer code 65536")
    request = c.new_request()
    request.create_accounts.accounts.append(account(201, code=1, flags=1 << 16))
    expect_status(request, "STATUS_BAD_REQUEST", "account flags above 16 bits")
    request = c.new_request()
    request.balance_at.account_id.CopyFrom(u128(MISSING))
    expect_status(request, "STATUS_ACCOUNT_NOT_FOUND", "balance_at of a missing account")
    request = c.new_request()
    request.account_history.account_id.CopyFrom(u128(MISSING))
    request.account_history.flags = pb.HISTORY_DEBITS
    request.account_history.limit = 10
    expect_status(request, "STATUS_ACCOUNT_NOT_FOUND", "history of a missing account")
    request = c.new_request()
    request.account_history.account_id.CopyFrom(u128(A))
    request.account_history.limit = 10
    expect_status(request, "STATUS_INVALID_FILTER", "history without DEBITS or CREDITS")
    request = c.new_request()
    request.account_history.account_id.CopyFrom(u128(A))
    request.account_history.flags = pb.HISTORY_DEBITS
    expect_status(request, "STATUS_INVALID_FILTER", "history with limit 0")
    request = c.new_request()
    request.account_history.account_id.CopyFrom(u128(A))
    request.account_history.flags = pb.HISTORY_DEBITS | (1 << 3)
    request.account_history.limit = 10
    expect_status(request, "STATUS_INVALID_FILTER", "history with an unknown flag bit")
    request = c.new_request()
    request.lookup_transfers.ids.extend(u128(i + 1) for i in range(BATCH_EVENTS_MAX_DEFAULT + 1))
    expect_status(request, "STATUS_BATCH_TOO_LARGE", "lookup of 8191 ids")
    check_eq(c.lookup_accounts([]), [], "lookup of no ids")
    # An op from a newer protocol (field 17, empty): unknown, not a close.
    request = c.new_request()
    unknown_op = request.SerializeToString() + bytes([0x8A, 0x01, 0x00])
    c.socket.sendall(frame(unknown_op))
    response = c.read_response()
    check_eq(response.request_id, request.request_id, "unknown op request_id")
    check_eq(pb.Status.Name(response.status), "STATUS_UNKNOWN_OPERATION", "unknown op (field 17)")
    # None of these changed anything.
    check_eq(c.status().accounts_count, 4 + PLATFORM_ACCOUNTS, "accounts_count after refused requests")
    check_eq(balance_tuple(c.lookup_accounts([A])[0]), FINAL_BALANCES[A], "A unchanged")


def case_pipelining_keeps_order():
    """Many requests written at once; responses come back in request order."""
    c = S.connection
    requests = []
    for i in range(PIPELINED_REQUESTS):
        request = c.new_request()
        if i % 3 == 0:
            request.status.SetInParent()
        elif i % 3 == 1:
            request.lookup_accounts.ids.append(u128(A))
        else:
            request.balance_at.account_id.CopyFrom(u128(B))
            request.balance_at.timestamp = U64_MAX
        requests.append(request)
    c.socket.sendall(b"".join(frame(r.SerializeToString()) for r in requests))
    for request in requests:
        response = c.read_response()
        check_eq(response.request_id, request.request_id, "pipelined request_id")
        check_eq(pb.Status.Name(response.status), "STATUS_OK", "pipelined status")
        check_eq(response.WhichOneof("result"),
                 {"status": "status_result"}.get(request.WhichOneof("op"), request.WhichOneof("op")),
                 "pipelined result kind")


def closed_by_server(side):
    """True when the server closes `side` (EOF or reset) within the timeout."""
    try:
        return side.socket.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def case_framing_violations_close_only_that_connection():
    oversized = Connection(S.server.address)
    oversized.socket.sendall(struct.pack(">I", FRAME_SIZE_MAX_DEFAULT + 1))
    check(closed_by_server(oversized), "declared length above frame_size_max closes the connection")
    oversized.close()
    garbage = Connection(S.server.address)
    garbage.socket.sendall(frame(b"\xff\xff\xff\xff"))
    check(closed_by_server(garbage), "a body that is not a Request closes the connection")
    garbage.close()
    # A well-behaved connection is still served.
    check_eq(balance_tuple(S.connection.lookup_accounts([B])[0]), FINAL_BALANCES[B],
             "first connection still served")
    other = Connection(S.server.address)
    check_eq(other.status().accounts_count, 4 + PLATFORM_ACCOUNTS, "new connection served")
    other.close()


def case_sigterm_exits_zero():
    S.connection.close()
    S.connection = None
    code = S.server.terminate()
    check_eq(code, 0, "exit code after SIGTERM (log tail:\n%s)" % S.server.log_tail())


def case_restart_keeps_everything():
    S.server.start()
    S.connection = Connection(S.server.address)
    found = S.connection.lookup_accounts([D, MISSING, A, C, B])
    check_eq([a.SerializeToString(deterministic=True) for a in found], S.accounts_seen,
             "accounts after restart")
    found = S.connection.lookup_transfers([T1, T2, T3, T4, T5, T6, T7])
    check_eq([t.SerializeToString(deterministic=True) for t in found], S.transfers_seen,
             "transfers after restart")
    check_eq(result_names(S.connection.create_transfers(transfers_first_batch()[:3])),
             ["RESULT_EXISTS"] * 3, "retry after restart answers EXISTS")
    S.connection.close()
    S.connection = None
    code = S.server.terminate()
    check_eq(code, 0, "exit code after the second SIGTERM")


CASES = [
    ("generate Python code with protoc --python_out", case_generate_python_code),
    ("server starts and logs its address", case_server_starts),
    ("status of a new ledger", case_status_of_a_new_ledger),
    ("create accounts", case_create_accounts),
    ("create accounts again: exists, per-event errors", case_create_accounts_again_is_idempotent),
    ("create transfers with linked chains", case_create_transfers_with_linked_chains),
    ("pending transfer", case_pending_transfer),
    ("post the pending transfer", case_post_pending_transfer),
    ("status after writes", case_status_after_writes),
    ("lookup accounts: every field", case_lookup_accounts),
    ("lookup transfers: every field", case_lookup_transfers),
    ("account history", case_account_history),
    ("balance at", case_balance_at),
    ("resubmitted transfers answer exists", case_resubmitted_transfers_answer_exists),
    ("request-level statuses", case_request_level_statuses),
    ("pipelining keeps order", case_pipelining_keeps_order),
    ("framing violations close only that connection",
     case_framing_violations_close_only_that_connection),
    ("SIGTERM exits 0", case_sigterm_exits_zero),
    ("restart keeps everything", case_restart_keeps_everything),
]

# Cases after which nothing else can run.
ESSENTIAL = {case_generate_python_code, case_server_starts}


def main():
    return run_cases(CASES, S, essential=lambda run: run in ESSENTIAL)


if __name__ == "__main__":
    sys.exit(main())
