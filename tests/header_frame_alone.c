/* Checks that proto/frame.h compiles with nothing before it. */
#include "frame.h"

int main(void) {
    uint8_t header[FRAME_HEADER_SIZE];
    frame_header_write(header, 1);
    return header[3] == 1 ? 0 : 1;
}
