# The functions of scripts/link-order.txt, picked from `readelf -sW`
# output. scripts/link-gcc lays a link out by them and scripts/check-layout
# checks a module against them, so both pick alike here. A listed name
# counts as is (less LLVM's .llvm.<n> suffix); a listed Rust name whose
# hash is in none of the symbols (a new toolchain, a changed signature)
# stands for every function of its path without the hash, unless one of
# that path's listed names is there.
#   awk -v order=LIST -v uniq=FIELD -f scripts/link-order.awk
# prints "RANK ADDRESS SIZE NAME" for each picked function (RANK: its place
# in the list), one symbol per value of field FIELD (8: the name, 2: the
# address), then "# LISTED FOUND": the list's names, and how many of them
# were found.
function path(s) { sub(/17h[0-9a-f]+E$/, "17hE", s); return s }
BEGIN {
    while ((getline l < order) > 0)
        if (l != "" && !(l in rank)) { rank[l] = ++listed; k = path(l); if (!(k in krank)) krank[k] = listed }
}
$4 == "FUNC" && $7 != "UND" && !seen[$uniq]++ {
    name = $8; sub(/\.llvm\.[0-9]+$/, "", name)
    if (name in rank) { print rank[name], $2, $3, $8; hit[name] = 1; hitp[path(name)] = 1; next }
    k = path(name)
    if (k in krank) { n++; cand[n] = $2 " " $3 " " $8; ck[n] = k }
}
END {
    for (i = 1; i <= n; i++) if (!(ck[i] in hitp)) { print krank[ck[i]], cand[i]; fell[ck[i]] = 1 }
    for (l in rank) if ((l in hit) || (path(l) in fell)) found++
    print "#", listed, found + 0
}
