# tests/lib/netns.sh — a multi-host test network built from network namespaces (source it).
#
#   ns_setup N            hosts 1..N, each in its own namespace with one address, all on
#                         one bridge inside a private "hub" namespace; nothing touches the
#                         host's own network.  Sets NS_PREFIX.
#   ns_addr I             the address of host I (10.213.K.I, K chosen per test run)
#   ns_exec I CMD...      run CMD inside host I's namespace
#   ns_cut I / ns_heal I  take host I's link down / up (a cable pulled and put back)
#   ns_teardown           delete every namespace made by ns_setup (call after killing
#                         the processes started inside them)
# Needs root and iproute2.  Traffic stays inside the namespaces: the hosts' addresses
# exist nowhere else, and the host namespace has no route to them.

NS_PREFIX=""
NS_N=0
NS_NET=""

ns_setup() {
	local n=$1 i
	NS_PREFIX="c3n$(( $$ % 10000 ))"
	NS_NET="10.213.$(( $$ % 250 + 1 ))"
	NS_N=$n
	ip netns add "${NS_PREFIX}hub" || return 1
	ip netns exec "${NS_PREFIX}hub" ip link add br0 type bridge || return 1
	ip netns exec "${NS_PREFIX}hub" ip link set br0 up
	ip netns exec "${NS_PREFIX}hub" ip link set lo up
	for ((i = 1; i <= n; i++)); do
		ip netns add "${NS_PREFIX}h$i" || return 1
		ip link add "${NS_PREFIX}a$i" type veth peer name "${NS_PREFIX}b$i" || return 1
		ip link set "${NS_PREFIX}a$i" netns "${NS_PREFIX}hub"
		ip link set "${NS_PREFIX}b$i" netns "${NS_PREFIX}h$i"
		ip netns exec "${NS_PREFIX}hub" ip link set "${NS_PREFIX}a$i" master br0
		ip netns exec "${NS_PREFIX}hub" ip link set "${NS_PREFIX}a$i" up
		ip netns exec "${NS_PREFIX}h$i" ip addr add "$NS_NET.$i/24" dev "${NS_PREFIX}b$i"
		ip netns exec "${NS_PREFIX}h$i" ip link set "${NS_PREFIX}b$i" up
		ip netns exec "${NS_PREFIX}h$i" ip link set lo up
	done
}

ns_addr() { echo "$NS_NET.$1"; }

ns_exec() {
	local i=$1; shift
	ip netns exec "${NS_PREFIX}h$i" "$@"
}

ns_cut() { ip netns exec "${NS_PREFIX}hub" ip link set "${NS_PREFIX}a$1" down; }
ns_heal() { ip netns exec "${NS_PREFIX}hub" ip link set "${NS_PREFIX}a$1" up; }

ns_teardown() {
	local i
	[ -n "$NS_PREFIX" ] || return 0
	for ((i = 1; i <= NS_N; i++)); do
		ip netns pids "${NS_PREFIX}h$i" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
		ip netns del "${NS_PREFIX}h$i" 2>/dev/null
	done
	ip netns del "${NS_PREFIX}hub" 2>/dev/null
	NS_PREFIX=""
}
