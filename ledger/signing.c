/*
 * signing.c — Ed25519 signed checkpoints (audit.h): the key pair of a data
 * directory, the `signatures` table, signing at checkpoints and on request.
 *
 * Invariants:
 *  - the meta value "signing_public_key" never changes once written: every
 *    signature in the table verifies under it;
 *  - a writable handle holds the private key (ledger->signing_key) or was
 *    refused at open; a read-only handle never loads it;
 *  - the private key's PEM bytes live only in buffers wiped with
 *    OPENSSL_cleanse before they are freed; the key file is created
 *    exclusively with mode 0600 and a key file other users can read or
 *    write is refused;
 *  - a signed checkpoint is written in the same transaction as the state it
 *    describes (ledger->sequence, ledger->chain_head, the balances in
 *    memory), and never overwritten.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "audit.h"
#include "ledger_internal.h"
#include "memory.h"

static const char CHECKPOINT_MAGIC[16] = {'b', 'o', 'r', 's', 'e', 'l', 'l', 'i',
                                          'n', 'o', '-', 'c', 'p', '-', 'v', '1'};
static const char META_PUBLIC_KEY[] = "signing_public_key";
/* A stored signed checkpoint: the message, then the signature. */
enum { SIGNED_CHECKPOINT_SIZE = LEDGER_CHECKPOINT_MESSAGE_SIZE + LEDGER_SIGNATURE_SIZE };
/* A PKCS#8 PEM Ed25519 private key is about 120 bytes; refuse anything
 * much larger rather than read an arbitrary file into memory. */
enum { SIGNING_KEY_FILE_SIZE_MAX = 4096 };

void ledger_checkpoint_message(const ledger_signed_checkpoint_t *checkpoint,
                               uint8_t message[LEDGER_CHECKPOINT_MESSAGE_SIZE]) {
    memcpy(message, CHECKPOINT_MAGIC, sizeof(CHECKPOINT_MAGIC));
    put_u64(message + 16, checkpoint->sequence);
    memcpy(message + 24, checkpoint->chain_head, LEDGER_DIGEST_SIZE);
    put_u64(message + 56, checkpoint->timestamp);
    memcpy(message + 64, checkpoint->trial_balance_digest, LEDGER_DIGEST_SIZE);
}

static bool checkpoint_message_decode(const uint8_t *bytes, ledger_signed_checkpoint_t *out) {
    if (memcmp(bytes, CHECKPOINT_MAGIC, sizeof(CHECKPOINT_MAGIC)) != 0) return false;
    out->sequence = get_u64(bytes + 16);
    memcpy(out->chain_head, bytes + 24, LEDGER_DIGEST_SIZE);
    out->timestamp = get_u64(bytes + 56);
    memcpy(out->trial_balance_digest, bytes + 64, LEDGER_DIGEST_SIZE);
    memcpy(out->signature, bytes + LEDGER_CHECKPOINT_MESSAGE_SIZE, LEDGER_SIGNATURE_SIZE);
    return true;
}

bool ledger_checkpoint_signature_valid(const uint8_t public_key[LEDGER_PUBLIC_KEY_SIZE],
                                       const ledger_signed_checkpoint_t *checkpoint) {
    uint8_t message[LEDGER_CHECKPOINT_MESSAGE_SIZE];
    ledger_checkpoint_message(checkpoint, message);
    EVP_PKEY *key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, public_key,
                                                LEDGER_PUBLIC_KEY_SIZE);
    EVP_MD_CTX *context = EVP_MD_CTX_new();
    bool valid = key != NULL && context != NULL &&
                 EVP_DigestVerifyInit(context, NULL, NULL, NULL, key) == 1 &&
                 EVP_DigestVerify(context, checkpoint->signature, LEDGER_SIGNATURE_SIZE,
                                  message, sizeof(message)) == 1;
    EVP_MD_CTX_free(context);
    EVP_PKEY_free(key);
    return valid;
}

/* ---- the key file ---- */

static void key_path(const ledger_t *ledger, char *path, size_t size) {
    if (ledger->options.signing_key_path != NULL) {
        snprintf(path, size, "%s", ledger->options.signing_key_path);
    } else {
        snprintf(path, size, "%s/signing.key", ledger->path);
    }
}

/* Reads the PEM file into a buffer wiped after parsing. */
static int key_load(ledger_t *ledger, const char *path, int fd, EVP_PKEY **key_out) {
    struct stat status;
    if (fstat(fd, &status) != 0) return errno;
    if ((status.st_mode & 077) != 0) {
        ledger_set_error(ledger, "signing key %s can be read or written by other users "
                         "(mode %03o): chmod 600 %s", path, (unsigned)(status.st_mode & 0777), path);
        return LEDGER_ERR_SIGNING_KEY;
    }
    if (status.st_size <= 0 || status.st_size > SIGNING_KEY_FILE_SIZE_MAX) {
        ledger_set_error(ledger, "signing key %s is not a PEM Ed25519 private key "
                         "(%lld bytes)", path, (long long)status.st_size);
        return LEDGER_ERR_SIGNING_KEY;
    }
    char buffer[SIGNING_KEY_FILE_SIZE_MAX];
    ssize_t got = read(fd, buffer, (size_t)status.st_size);
    EVP_PKEY *key = NULL;
    if (got == status.st_size) {
        BIO *bio = BIO_new_mem_buf(buffer, (int)got);
        if (bio != NULL) key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
        BIO_free(bio);
    }
    OPENSSL_cleanse(buffer, sizeof(buffer));
    if (key == NULL || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(key);
        ledger_set_error(ledger, "signing key %s is not a PEM Ed25519 private key", path);
        return LEDGER_ERR_SIGNING_KEY;
    }
    *key_out = key;
    return 0;
}

/* Creates a new key pair in a new file (O_EXCL, 0600), durably. */
static int key_create(ledger_t *ledger, const char *path, EVP_PKEY **key_out) {
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    BIO *bio = BIO_new(BIO_s_secmem());
    char *pem = NULL;
    long pem_size = 0;
    if (key == NULL || bio == NULL ||
        PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1 ||
        (pem_size = BIO_get_mem_data(bio, &pem)) <= 0) {
        BIO_free(bio);
        EVP_PKEY_free(key);
        ledger_set_error(ledger, "cannot create a signing key: OpenSSL failed");
        return LEDGER_ERR_SIGNING_KEY;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int error = fd < 0 ? errno : 0;
    if (!error && write(fd, pem, (size_t)pem_size) != pem_size) error = errno ? errno : EIO;
    if (!error && fsync(fd) != 0) error = errno;
    if (fd >= 0) close(fd);
    BIO_free(bio); /* a secure-memory BIO: wiped as it is freed */
    if (error) {
        if (fd >= 0) unlink(path);
        EVP_PKEY_free(key);
        ledger_set_error(ledger, "cannot create signing key %s: %s", path, strerror(error));
        return store_error(error);
    }
    *key_out = key;
    return 0;
}

/*
 * Loads (or, when the file does not exist and the directory has no public
 * key yet, creates) the signing key, and records its public half in meta
 * when the directory has none. Called by store_open in its transaction.
 */
int signing_open(ledger_t *ledger, MDB_txn *txn) {
    uint8_t recorded[LEDGER_PUBLIC_KEY_SIZE];
    bool found = false;
    int error = store_meta_get_bytes(ledger, txn, META_PUBLIC_KEY, recorded,
                                     sizeof(recorded), &found);
    if (error) return error;
    char path[4096];
    key_path(ledger, path, sizeof(path));
    EVP_PKEY *key = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        error = key_load(ledger, path, fd, &key);
        close(fd);
    } else if (errno == ENOENT && !found) {
        error = key_create(ledger, path, &key);
    } else {
        ledger_set_error(ledger, "cannot open signing key %s: %s%s", path, strerror(errno),
                         errno == ENOENT ? " (this directory's checkpoints are signed with "
                                           "it: restore the file, or give its path)" : "");
        return LEDGER_ERR_SIGNING_KEY;
    }
    if (error) return error;
    uint8_t public_key[LEDGER_PUBLIC_KEY_SIZE];
    size_t public_size = sizeof(public_key);
    if (EVP_PKEY_get_raw_public_key(key, public_key, &public_size) != 1) {
        error = LEDGER_ERR_SIGNING_KEY;
    } else if (found && memcmp(public_key, recorded, sizeof(recorded)) != 0) {
        ledger_set_error(ledger, "signing key %s is not the key of this data directory "
                         "(its public half differs from the one the directory records)", path);
        error = LEDGER_ERR_SIGNING_KEY;
    } else if (!found) {
        error = store_meta_put_bytes(ledger, txn, META_PUBLIC_KEY, public_key, sizeof(public_key));
    }
    if (error) {
        EVP_PKEY_free(key);
        return error;
    }
    ledger->signing_key = key;
    return 0;
}

void signing_close(ledger_t *ledger) {
    EVP_PKEY_free(ledger->signing_key);
    ledger->signing_key = NULL;
}

/* ---- signing ---- */

static int signature_make(ledger_t *ledger, ledger_signed_checkpoint_t *checkpoint) {
    uint8_t message[LEDGER_CHECKPOINT_MESSAGE_SIZE];
    ledger_checkpoint_message(checkpoint, message);
    EVP_MD_CTX *context = EVP_MD_CTX_new();
    size_t size = LEDGER_SIGNATURE_SIZE;
    bool ok = context != NULL &&
              EVP_DigestSignInit(context, NULL, NULL, NULL, ledger->signing_key) == 1 &&
              EVP_DigestSign(context, checkpoint->signature, &size, message,
                             sizeof(message)) == 1 &&
              size == LEDGER_SIGNATURE_SIZE;
    EVP_MD_CTX_free(context);
    if (ok) return 0;
    ledger_set_error(ledger, "signing the checkpoint failed (OpenSSL)");
    return LEDGER_ERR_SIGNING_KEY;
}

static int signature_get(ledger_t *ledger, MDB_txn *txn, uint64_t sequence,
                         ledger_signed_checkpoint_t *checkpoint_out, bool *found_out) {
    *found_out = false;
    if (!ledger->signatures_table) return 0;
    uint8_t key_bytes[KEY_SEQUENCE_SIZE];
    key_sequence_encode(sequence, key_bytes);
    MDB_val key = {sizeof(key_bytes), key_bytes};
    MDB_val data;
    int error = mdb_get(txn, ledger->dbi_signatures, &key, &data);
    if (error == MDB_NOTFOUND) return 0;
    if (error) return error;
    if (data.mv_size != SIGNED_CHECKPOINT_SIZE ||
        !checkpoint_message_decode(data.mv_data, checkpoint_out)) {
        ledger_set_error(ledger, "signed checkpoint at sequence %llu is malformed",
                         (unsigned long long)sequence);
        return LEDGER_ERR_CORRUPT;
    }
    *found_out = true;
    return 0;
}

/* Signs the current state into `txn` unless that sequence is signed. */
int signing_checkpoint_put(ledger_t *ledger, MDB_txn *txn,
                           ledger_signed_checkpoint_t *checkpoint_out) {
    if (ledger->signing_key == NULL) return 0;
    bool found = false;
    int error = signature_get(ledger, txn, ledger->sequence, checkpoint_out, &found);
    if (error || found) return error;
    ledger_signed_checkpoint_t *checkpoint = checkpoint_out;
    memset(checkpoint, 0, sizeof(*checkpoint));
    checkpoint->sequence = ledger->sequence;
    checkpoint->timestamp = ledger->options.clock(ledger->options.clock_context);
    memcpy(checkpoint->chain_head, ledger->chain_head, LEDGER_DIGEST_SIZE);
    error = trial_balance_memory_digest(ledger, checkpoint->trial_balance_digest);
    if (!error) error = signature_make(ledger, checkpoint);
    if (error) return error;
    uint8_t value[SIGNED_CHECKPOINT_SIZE];
    ledger_checkpoint_message(checkpoint, value);
    memcpy(value + LEDGER_CHECKPOINT_MESSAGE_SIZE, checkpoint->signature, LEDGER_SIGNATURE_SIZE);
    uint8_t key_bytes[KEY_SEQUENCE_SIZE];
    key_sequence_encode(checkpoint->sequence, key_bytes);
    MDB_val key = {sizeof(key_bytes), key_bytes};
    MDB_val data = {sizeof(value), value};
    return store_error(mdb_put(txn, ledger->dbi_signatures, &key, &data, 0));
}

static int sign_once(ledger_t *ledger, ledger_signed_checkpoint_t *checkpoint_out) {
    MDB_txn *txn = NULL;
    int error = durability_commit_check(ledger, false);
    if (!error) error = store_grow_if_needed(ledger, false);
    if (!error) error = mdb_txn_begin(ledger->env, NULL, 0, &txn);
    if (error) return store_error(error);
    error = signing_checkpoint_put(ledger, txn, checkpoint_out);
    if (error) {
        mdb_txn_abort(txn);
        return error;
    }
    error = mdb_txn_commit(txn);
    return error ? store_commit_error(ledger, error) : 0;
}

int ledger_sign_checkpoint(ledger_t *ledger, ledger_signed_checkpoint_t *checkpoint_out) {
    if (ledger == NULL || checkpoint_out == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    if (ledger->options.read_only) return LEDGER_ERR_READ_ONLY;
    if (ledger->txn_group != NULL) return LEDGER_ERR_WRITE_OPEN;
    int error = sign_once(ledger, checkpoint_out);
    while (error == MDB_MAP_FULL) {
        error = store_grow_if_needed(ledger, true);
        if (!error) error = sign_once(ledger, checkpoint_out);
    }
    return error;
}

/* ---- reading ---- */

int ledger_signed_checkpoints(ledger_t *ledger, uint64_t sequence_min,
                              ledger_signed_checkpoint_t *checkpoints_out,
                              uint32_t capacity, uint32_t *count_out) {
    if (ledger == NULL || checkpoints_out == NULL || count_out == NULL || capacity == 0 ||
        capacity > LEDGER_SIGNED_CHECKPOINTS_MAX) {
        return LEDGER_ERR_INVALID_ARGUMENT;
    }
    *count_out = 0;
    if (!ledger->signatures_table) return 0;
    MDB_txn *txn = NULL;
    int error = ledger_read_begin(ledger, &txn);
    if (error) return error;
    error = signing_cursor_read(ledger, txn, sequence_min, checkpoints_out, capacity, count_out);
    ledger_read_end(ledger, txn);
    return error;
}

int signing_cursor_read(ledger_t *ledger, MDB_txn *txn, uint64_t sequence_min,
                        ledger_signed_checkpoint_t *checkpoints_out, uint32_t capacity,
                        uint32_t *count_out) {
    *count_out = 0;
    if (!ledger->signatures_table) return 0;
    MDB_cursor *cursor = NULL;
    int error = mdb_cursor_open(txn, ledger->dbi_signatures, &cursor);
    if (error) return error;
    uint8_t key_bytes[KEY_SEQUENCE_SIZE];
    key_sequence_encode(sequence_min, key_bytes);
    MDB_val key = {sizeof(key_bytes), key_bytes};
    MDB_val data;
    uint32_t count = 0;
    for (error = mdb_cursor_get(cursor, &key, &data, MDB_SET_RANGE);
         error == 0 && count < capacity; error = mdb_cursor_get(cursor, &key, &data, MDB_NEXT)) {
        if (key.mv_size != KEY_SEQUENCE_SIZE || data.mv_size != SIGNED_CHECKPOINT_SIZE ||
            !checkpoint_message_decode(data.mv_data, &checkpoints_out[count]) ||
            checkpoints_out[count].sequence != key_sequence_decode(key.mv_data)) {
            ledger_set_error(ledger, "signed checkpoint at sequence %llu is malformed",
                             (unsigned long long)key_sequence_decode(key.mv_data));
            error = LEDGER_ERR_CORRUPT;
            break;
        }
        count++;
    }
    mdb_cursor_close(cursor);
    *count_out = count;
    return error == MDB_NOTFOUND ? 0 : error;
}

int ledger_public_key(ledger_t *ledger, uint8_t key_out[LEDGER_PUBLIC_KEY_SIZE],
                      bool *found_out) {
    if (ledger == NULL || key_out == NULL || found_out == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    MDB_txn *txn = NULL;
    int error = ledger_read_begin(ledger, &txn);
    if (error) return error;
    error = store_meta_get_bytes(ledger, txn, META_PUBLIC_KEY, key_out, LEDGER_PUBLIC_KEY_SIZE,
                                 found_out);
    ledger_read_end(ledger, txn);
    return error;
}

int ledger_public_key_pem(const uint8_t key[LEDGER_PUBLIC_KEY_SIZE], char *text_out,
                          size_t size) {
    if (key == NULL || text_out == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, key,
                                                 LEDGER_PUBLIC_KEY_SIZE);
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem = NULL;
    long pem_size = 0;
    int error = 0;
    if (pkey == NULL || bio == NULL || PEM_write_bio_PUBKEY(bio, pkey) != 1 ||
        (pem_size = BIO_get_mem_data(bio, &pem)) <= 0) {
        error = LEDGER_ERR_NO_MEMORY;
    } else if ((size_t)pem_size >= size) {
        error = LEDGER_ERR_INVALID_ARGUMENT;
    } else {
        memcpy(text_out, pem, (size_t)pem_size);
        text_out[pem_size] = '\0';
    }
    BIO_free(bio);
    EVP_PKEY_free(pkey);
    return error;
}

int ledger_public_key_read(const char *path, uint8_t key_out[LEDGER_PUBLIC_KEY_SIZE]) {
    if (path == NULL || key_out == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        ledger_set_error(NULL, "cannot open public key %s: %s", path, strerror(errno));
        return LEDGER_ERR_SIGNING_KEY;
    }
    EVP_PKEY *key = PEM_read_PUBKEY(file, NULL, NULL, NULL);
    fclose(file);
    size_t size = LEDGER_PUBLIC_KEY_SIZE;
    bool ok = key != NULL && EVP_PKEY_get_id(key) == EVP_PKEY_ED25519 &&
              EVP_PKEY_get_raw_public_key(key, key_out, &size) == 1 &&
              size == LEDGER_PUBLIC_KEY_SIZE;
    EVP_PKEY_free(key);
    if (ok) return 0;
    ledger_set_error(NULL, "%s is not a PEM Ed25519 public key", path);
    return LEDGER_ERR_SIGNING_KEY;
}
