/* Checks that ledger/ledger.h compiles on its own, with nothing before it. */
#include "ledger.h"

int main(void) {
    ledger_u128_t id = ledger_u128_from_u64(1);
    return ledger_u128_is_zero(id) ? 1 : 0;
}
