# c3fs-admin (operator CLI) and c3fs-node-sim (stand-in node for mgmtd tests).
ifneq ($(wildcard tools/admin/admin.c),)
PROGRAMS += c3fs-admin
c3fs-admin_SRCS := $(filter-out tools/admin/node_sim.c,$(wildcard tools/admin/*.c))
c3fs-admin_MODS := proto cluster net common usrbio
endif

PROGRAMS += c3fs-node-sim
c3fs-node-sim_SRCS := tools/admin/node_sim.c
c3fs-node-sim_MODS := cluster net common
