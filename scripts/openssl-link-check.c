/*
 * scripts/prebuild.sh builds this beside each prebuild, with the same
 * compiler and Node's headers, and loads it with the node that tests the
 * prebuild: it proves that <openssl/evp.h> from Node's headers compiles
 * for the target and that OpenSSL calls left undefined in an addon are
 * resolved from node at load time (the WireGuard code will rely on that).
 * keylen() returns 32, the ChaCha20-Poly1305 key length.
 */
#include <node_api.h>
#include <openssl/evp.h>

static napi_value keylen(napi_env env, napi_callback_info info)
{
	napi_value v;

	(void)info;
	napi_create_int32(env, EVP_CIPHER_get_key_length(EVP_chacha20_poly1305()), &v);
	return v;
}

NAPI_MODULE_INIT()
{
	napi_value fn;

	napi_create_function(env, "keylen", NAPI_AUTO_LENGTH, keylen, NULL, &fn);
	napi_set_named_property(env, exports, "keylen", fn);
	return exports;
}
