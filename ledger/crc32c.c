/*
 * crc32c.c — CRC-32C, hardware-accelerated where available.
 *
 * The table is built once, on first use, behind pthread_once. The hardware
 * path is chosen at run time with __builtin_cpu_supports, so one binary
 * works on every x86-64 and elsewhere falls back to the table.
 */
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

static uint32_t crc32c_table[256];
static pthread_once_t crc32c_table_once = PTHREAD_ONCE_INIT;

static void crc32c_table_build(void) {
    for (uint32_t byte = 0; byte < 256; byte++) {
        uint32_t crc = byte;
        for (int bit = 0; bit < 8; bit++) {
            crc = (crc & 1u) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
        }
        crc32c_table[byte] = crc;
    }
}

uint32_t crc32c_portable(const void *data, size_t size) {
    pthread_once(&crc32c_table_once, crc32c_table_build);
    const unsigned char *bytes = data;
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < size; i++) {
        crc = crc32c_table[(crc ^ bytes[i]) & 0xFFu] ^ (crc >> 8);
    }
    return crc ^ 0xFFFFFFFFu;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("sse4.2"))) static uint32_t
crc32c_hardware(const void *data, size_t size) {
    const unsigned char *bytes = data;
    uint64_t crc = 0xFFFFFFFFu;
    while (size >= 8) {
        uint64_t word;
        memcpy(&word, bytes, sizeof(word));
        crc = __builtin_ia32_crc32di(crc, word);
        bytes += 8;
        size -= 8;
    }
    uint32_t crc32 = (uint32_t)crc;
    while (size > 0) {
        crc32 = __builtin_ia32_crc32qi(crc32, *bytes);
        bytes++;
        size--;
    }
    return crc32 ^ 0xFFFFFFFFu;
}

uint32_t crc32c(const void *data, size_t size) {
    static int hardware = -1;
    if (hardware < 0) hardware = __builtin_cpu_supports("sse4.2") ? 1 : 0;
    if (hardware) return crc32c_hardware(data, size);
    return crc32c_portable(data, size);
}
#else
uint32_t crc32c(const void *data, size_t size) {
    return crc32c_portable(data, size);
}
#endif
