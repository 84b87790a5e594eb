/* Checks that proto/frame.h and proto/convert.h each compile on their own
 * (this file includes them in the order that would expose a missing
 * include: convert.h first). */
#include "convert.h"
#include "frame.h"

int main(void) {
    uint8_t header[FRAME_HEADER_SIZE];
    frame_header_write(header, 0);
    Borsellino__V1__U128 value = BORSELLINO__V1__U128__INIT;
    return ledger_u128_is_zero(convert_u128_from_proto(&value)) && header[3] == 0 ? 0 : 1;
}
