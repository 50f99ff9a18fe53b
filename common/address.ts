// Addresses inside URLs and nginx directives.

/** An address as the host part of a URL or `host:port`: an IPv6 address goes in brackets. */
export function urlHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

/** Whether a listen address is only reachable from this machine (127.0.0.0/8, ::1, localhost). */
export function isLoopback(address: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address) || address === '::1' || address === 'localhost';
}
