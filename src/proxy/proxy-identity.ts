/**
 * Who the proxy says it is: the one broker clients see. Every proxy behind one Service advertises the
 * same identity (the Service's host and port), so clients may land on any of them.
 */
export interface ProxyIdentity {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

/** The node id the proxy reports for itself in Metadata, FindCoordinator and DescribeCluster. */
export const PROXY_NODE_ID = 0;
