use super::*;

/// `vagrant ssh-config` of the libvirt cluster (vagrant 2.3.4, vagrant-libvirt 0.11.2).
const LIBVIRT: &str = "Host n1
  HostName 192.168.121.134
  User vagrant
  Port 22
  UserKnownHostsFile /dev/null
  StrictHostKeyChecking no
  PasswordAuthentication no
  IdentityFile /work/vm/cluster/.vagrant/machines/n1/libvirt/private_key
  IdentitiesOnly yes
  LogLevel FATAL
  PubkeyAcceptedKeyTypes +ssh-rsa
  HostKeyAlgorithms +ssh-rsa

Host n2
  HostName 192.168.121.194
  User vagrant
  Port 22
  UserKnownHostsFile /dev/null
  StrictHostKeyChecking no
  PasswordAuthentication no
  IdentityFile /work/vm/cluster/.vagrant/machines/n2/libvirt/private_key
  IdentitiesOnly yes
  LogLevel FATAL

";

/// The VirtualBox shape: a forwarded port on 127.0.0.1, a quoted key path, two keys.
const VIRTUALBOX: &str = "Host n1
  HostName 127.0.0.1
  User vagrant
  Port 2222
  IdentityFile \"/home/me/my project/.vagrant/machines/n1/virtualbox/private_key\"
  IdentityFile /home/me/.vagrant.d/insecure_private_key
  IdentitiesOnly yes
";

const IP_ADDR: &str = "2: eth0    inet 192.168.121.134/24 metric 1024 brd 192.168.121.255 scope global dynamic eth0\\       valid_lft 3580sec preferred_lft 3580sec
3: eth1    inet 10.88.1.11/24 brd 10.88.1.255 scope global eth1\\       valid_lft forever preferred_lft forever
ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHx root@n1
ecdsa-sha2-nistp256 AAAAE2VjZHNh root@n1
ssh-rsa AAAAB3NzaC1yc2E root@n1
";

fn ip(s: &str) -> Ipv4Addr {
    s.parse().expect("a test address")
}

#[test]
fn libvirt_ssh_config_is_parsed_in_order() {
    let hosts = parse_ssh_config(LIBVIRT);
    assert_eq!(hosts.len(), 2);
    assert_eq!(
        hosts[0],
        SshConfigHost {
            name: "n1".into(),
            hostname: "192.168.121.134".into(),
            user: Some("vagrant".into()),
            port: Some(22),
            identity_files: vec!["/work/vm/cluster/.vagrant/machines/n1/libvirt/private_key".into()],
        }
    );
    assert_eq!(hosts[1].name, "n2");
    assert_eq!(hosts[1].hostname, "192.168.121.194");
}

#[test]
fn virtualbox_ssh_config_keeps_quoted_paths_and_every_key() {
    let hosts = parse_ssh_config(VIRTUALBOX);
    assert_eq!(hosts[0].port, Some(2222));
    assert_eq!(
        hosts[0].identity_files,
        vec![
            PathBuf::from("/home/me/my project/.vagrant/machines/n1/virtualbox/private_key"),
            PathBuf::from("/home/me/.vagrant.d/insecure_private_key")
        ]
    );
}

#[test]
fn nothing_before_the_first_host_and_no_hosts() {
    assert!(parse_ssh_config("").is_empty());
    assert!(parse_ssh_config("  User vagrant\n").is_empty());
    assert_eq!(parse_ssh_config("Host n9\n")[0].hostname, "n9");
}

#[test]
fn probe_output_gives_addresses_and_keys_without_comments() {
    let p = parse_probe(IP_ADDR);
    assert_eq!(p.addrs, vec![ip("192.168.121.134"), ip("10.88.1.11")]);
    assert_eq!(
        p.host_keys,
        vec!["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHx", "ecdsa-sha2-nistp256 AAAAE2VjZHNh", "ssh-rsa AAAAB3NzaC1yc2E"]
    );
}

#[test]
fn the_private_address_is_the_one_vagrant_does_not_use() {
    let h = &parse_ssh_config(LIBVIRT)[0];
    let addrs = parse_probe(IP_ADDR).addrs;
    assert_eq!(pick_address(h, &addrs, None), Ok(ip("10.88.1.11")));
    // With only the management network, that is the address.
    assert_eq!(pick_address(h, &[ip("192.168.121.134")], None), Ok(ip("192.168.121.134")));
}

#[test]
fn a_forwarded_port_skips_virtualbox_nat() {
    let h = &parse_ssh_config(VIRTUALBOX)[0];
    assert_eq!(pick_address(h, &[ip("10.0.2.15"), ip("192.168.56.11")], None), Ok(ip("192.168.56.11")));
    let err = pick_address(h, &[ip("10.0.2.15")], None).unwrap_err();
    assert!(err.contains("no private network address"), "{err}");
}

#[test]
fn several_candidates_need_a_network() {
    let h = &parse_ssh_config(LIBVIRT)[0];
    let addrs = [ip("192.168.121.134"), ip("10.88.1.11"), ip("172.16.0.5")];
    let err = pick_address(h, &addrs, None).unwrap_err();
    assert!(err.contains("10.88.1.11, 172.16.0.5") && err.contains("--network"), "{err}");
    let net = Network::parse("172.16.0.0/12").expect("valid");
    assert_eq!(pick_address(h, &addrs, Some(net)), Ok(ip("172.16.0.5")));
    let none = Network::parse("10.99.0.0/16").expect("valid");
    assert!(pick_address(h, &addrs, Some(none)).is_err());
}

#[test]
fn networks_parse_and_contain() {
    let n = Network::parse("10.88.1.0/24").expect("valid");
    assert!(n.contains(ip("10.88.1.255")) && !n.contains(ip("10.88.2.1")));
    assert!(Network::parse("0.0.0.0/0").expect("valid").contains(ip("1.2.3.4")));
    for bad in ["10.88.1.0", "10.88.1.0/33", "x/24", "::1/64"] {
        assert!(Network::parse(bad).is_err(), "{bad}");
    }
}

fn nodes() -> Vec<VagrantNode> {
    let keys = parse_probe(IP_ADDR).host_keys;
    parse_ssh_config(LIBVIRT)
        .into_iter()
        .enumerate()
        .map(|(i, ssh)| VagrantNode { ssh, address: Ipv4Addr::new(10, 88, 1, 11 + i as u8), host_keys: keys.clone() })
        .collect()
}

#[test]
fn written_files_pin_keys_to_private_addresses() {
    let n = nodes();
    let kh = known_hosts_text(&n);
    assert_eq!(kh.lines().count(), 6);
    assert!(kh.starts_with("10.88.1.11 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHx\n"), "{kh}");
    assert!(kh.contains("\n10.88.1.12 ssh-rsa AAAAB3NzaC1yc2E\n"), "{kh}");
    let cfg = ssh_config_text(&n);
    assert!(
        cfg.contains(
            "Host 10.88.1.12\n  User vagrant\n  IdentityFile \"/work/vm/cluster/.vagrant/machines/n2/libvirt/private_key\"\n  IdentitiesOnly yes\n"
        ),
        "{cfg}"
    );
}

#[test]
fn the_nodes_file_reads_back_with_sudo_and_strict_checking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_files(dir.path(), &nodes()).expect("written");
    let targets = crate::config::load_nodes_file(&path).expect("a valid nodes file");
    let state = std::fs::canonicalize(dir.path()).expect("exists").join(".vagrant/brawl");
    assert_eq!(targets.len(), 2);
    let t = &targets[1];
    assert_eq!((t.name.as_str(), t.host.as_str()), ("n2", "10.88.1.12"));
    assert_eq!(t.user.as_deref(), Some("vagrant"));
    assert_eq!(t.sudo, Sudo::Passwordless);
    assert_eq!(t.host_key_checking, HostKeyChecking::Strict);
    assert_eq!(t.known_hosts.as_deref(), Some(state.join("known_hosts").as_path()));
    assert_eq!(t.ssh_config.as_deref(), Some(state.join("ssh_config").as_path()));
    assert!(t.key_file.is_none(), "the per-machine key comes from ssh_config");
}

#[test]
fn the_nodes_file_is_stale_when_missing_or_older_than_a_machine() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(is_stale(dir.path()));
    let machine = dir.path().join(".vagrant/machines/n1/libvirt");
    std::fs::create_dir_all(&machine).expect("mkdir");
    std::fs::write(machine.join("id"), "uuid").expect("write");
    std::thread::sleep(Duration::from_millis(20));
    write_files(dir.path(), &nodes()).expect("written");
    assert!(!is_stale(dir.path()));
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(machine.join("id"), "new uuid").expect("write");
    assert!(is_stale(dir.path()));
}
