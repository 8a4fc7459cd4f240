# shellcheck shell=bash disable=SC2034  # the LAB_MARIADB_* variables are for the calling script
# MariaDB servers for the lab (source after lab.sh). Each runs in its own directory under
# $LAB_DIR with the general log on, so a test reads every command a server executed, per
# connection and in order.
#
#   lab_start_mariadb NS IP PORT    # sets LAB_MARIADB_DIR, LAB_MARIADB_SOCK, LAB_MARIADB_GENERAL_LOG
#   lab_mariadb_sql DIR SQL...      # runs SQL as root over the server's socket
#
# Users (both with every privilege on the database sbtest):
#   app  password app-secret   mysql_native_password
#   edu  password ed-secret    ed25519 (MariaDB's client_ed25519)
LAB_MARIADB_USERS="app app-secret
edu ed-secret"

lab_start_mariadb() {
  local ns=$1 ip=$2 port=$3
  lab_require_cmd mariadbd mariadb-install-db mariadb
  local d="$LAB_DIR/mariadb-$ns-$port"
  mkdir -p "$d/data"
  cat >"$d/my.cnf" <<CNF
[mariadbd]
datadir=$d/data
socket=$d/sock
pid-file=$d/mariadbd.pid
bind-address=$ip
port=$port
user=root
skip-name-resolve
skip-log-bin
general-log=1
general-log-file=$d/general.log
log-error=$d/error.log
innodb-buffer-pool-size=32M
innodb-log-file-size=16M
max-connections=200
CNF
  mariadb-install-db --defaults-file="$d/my.cnf" --auth-root-authentication-method=normal --skip-test-db \
    >"$d/install.log" 2>&1 || lab_die "mariadb-install-db failed, see $d/install.log"
  lab_bg "mariadb-$ns-$port" "$ns" mariadbd --defaults-file="$d/my.cnf"
  LAB_MARIADB_PID=$LAB_LAST_PID
  LAB_MARIADB_DIR=$d
  LAB_MARIADB_SOCK=$d/sock
  LAB_MARIADB_GENERAL_LOG=$d/general.log
  lab_wait_port "$ns" "$ip" "$port" 60
  # mariadb-install-db's anonymous ''@localhost would take the socket logins of app and edu.
  lab_mariadb_sql "$d" "DROP USER IF EXISTS ''@'localhost';
    INSTALL SONAME 'auth_ed25519';
    CREATE DATABASE sbtest;
    CREATE USER 'app'@'%' IDENTIFIED BY 'app-secret';
    CREATE USER 'edu'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('ed-secret');
    GRANT ALL ON sbtest.* TO 'app'@'%';
    GRANT ALL ON sbtest.* TO 'edu'@'%';"
}

# lab_mariadb_sql DIR SQL : SQL as root over the socket of the server in DIR (no network).
lab_mariadb_sql() {
  mariadb --no-defaults -S "$1/sock" -u root -N -B -e "$2" || lab_die "SQL failed on $1: $2"
}
