/** A CredentialProviderRequest this large is not from kubelet (a service-account token is a few KiB). */
export const MAX_KUBELET_REQUEST_BYTES = 1024 * 1024;
