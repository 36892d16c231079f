/* op_table.c — op ids to definitions, generated from ops.def. */
#include "../core/internal.h"

const zen_op_def *const zen_op_table[ZEN_OP_COUNT] = {
    [ZEN_OP_NONE] = NULL,
#define ZEN_OP(ID, name) [ZEN_OP_##ID] = &zen_op_##name,
#include "ops.def"
#undef ZEN_OP
};
